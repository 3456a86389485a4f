"""Starting and stopping an emulator in-process (tests, selfcheck, the CLI command)."""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path
from types import TracebackType

from epic_assets.emulator import synthetic
from epic_assets.emulator.auth import RegisteredKeys
from epic_assets.emulator.config import EmulatorConfig
from epic_assets.emulator.exports import ExportManager, ExportSettings
from epic_assets.emulator.server import EmulatorApp, EmulatorHandler, EmulatorHTTPServer
from epic_assets.errors import EpicAssetsError
from epic_assets.identifiers import fhir_id


class RunningEmulator:
    """A live emulator. Use as a context manager, or call :meth:`stop`."""

    def __init__(self, server: EmulatorHTTPServer, thread: threading.Thread, owned_spool: Path | None) -> None:
        self._server = server
        self._thread = thread
        self._owned_spool = owned_spool
        self._stopped = False

    @property
    def app(self) -> EmulatorApp:
        return self._server.app

    @property
    def root_url(self) -> str:
        return self.app.root_url

    @property
    def base_url(self) -> str:
        """The FHIR R4 base, e.g. ``http://127.0.0.1:54321/api/FHIR/R4``."""
        return self.app.fhir_base

    @property
    def token_url(self) -> str:
        return self.app.token_url

    @property
    def group_id(self) -> str:
        return self.app.config.group_id

    @property
    def spool_dir(self) -> Path:
        """Where export files are written (benchmarks read it directly as a baseline)."""
        return self.app.exports.spool_dir

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self.app.exports.wait_idle(timeout=30)
        if self._owned_spool is not None:
            shutil.rmtree(self._owned_spool, ignore_errors=True)

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def run_emulator(config: EmulatorConfig) -> RunningEmulator:
    """Bind (port 0 = ephemeral), start serving on a background thread, and return once accepting."""
    fhir_id(config.group_id, where="emulator group id")
    if config.patients < 1:
        raise EpicAssetsError("the emulator needs at least one patient")
    if config.max_per_file < 1:
        raise EpicAssetsError("max_per_file must be at least 1")
    if config.granted_types is not None:
        unknown = sorted(set(config.granted_types) - set(synthetic.SUPPORTED_TYPES))
        if unknown:
            raise EpicAssetsError(
                f"cannot grant {', '.join(unknown)}: not a served resource type "
                f"(known: {', '.join(synthetic.SUPPORTED_TYPES)})"
            )
    keys = RegisteredKeys.from_source(config.jwks)
    owned_spool = None
    spool_dir = config.spool_dir
    if spool_dir is None:
        owned_spool = spool_dir = Path(tempfile.mkdtemp(prefix="epic-emulator-"))
    spool_dir.mkdir(parents=True, exist_ok=True)
    try:
        server = EmulatorHTTPServer((config.host, config.port), EmulatorHandler)
    except OSError as error:
        if owned_spool is not None:
            shutil.rmtree(owned_spool, ignore_errors=True)
        raise EpicAssetsError(f"cannot listen on {config.host}:{config.port}: {error.strerror}") from None
    host, port = server.server_address[:2]
    display_host = f"[{host}]" if ":" in str(host) else host
    exports = ExportManager(
        ExportSettings(
            patients=config.patients,
            seed=config.seed,
            max_per_file=config.max_per_file,
            cooldown_seconds=config.effective_cooldown_hours * 3600,
            slow_export_seconds=config.faults.slow_export,
            error_file=config.faults.error_file,
            started_at=config.clock.now(),
            first_day=config.day,
        ),
        spool_dir,
        config.clock,
    )
    server.app = EmulatorApp(
        config,
        keys,
        exports,
        f"http://{display_host}:{port}",
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    return RunningEmulator(server, thread, owned_spool)
