"""Export jobs: the 24-hour window, background generation into a spool directory, progress, manifests.

A job's files are written to disk by the synthetic generator on a worker thread and later streamed to
clients from there, so neither generation nor download holds an export in memory. All time comes
from the injected clock, which is how tests cross the 24-hour window or a slow export without sleeping.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import shutil
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from epic_assets.emulator import synthetic
from epic_assets.emulator.clock import Clock
from epic_assets.emulator.kickoff import KickoffParameters
from epic_assets.emulator.pages import epic_issue, operation_outcome, plain_issue

log = logging.getLogger(__name__)

TOO_RECENT_TEXT = "Request not allowed: The Client requested this Group too recently."
RETENTION_SECONDS = 14 * 24 * 3600  # Epic keeps results 14 days
_FILE_ID_ALPHABET = string.ascii_letters + string.digits


def new_request_id() -> str:
    """Epic's bulk request ids are 32 upper-case hex digits."""
    return secrets.token_hex(16).upper()


def new_file_id() -> str:
    """Opaque file ids shaped like Epic's (24 letters/digits, no extension)."""
    return "e" + "".join(secrets.choice(_FILE_ID_ALPHABET) for _ in range(23))


@dataclass
class ExportFile:
    file_id: str
    type: str
    path: Path


@dataclass
class ExportJob:
    """One kick-off's state. The worker thread fills ``files``/``failure`` and sets ``written`` last, so a
    request thread that sees ``written`` also sees the results (attribute writes are atomic in CPython)."""

    request_id: str
    client_id: str
    group_id: str
    request_url: str
    kicked_off_at: float
    ready_at: float  # not complete before this moment even when files are written (slow-export)
    patients: int
    directory: Path
    day: int = 0  # the synthetic data's day (see synthetic.evolution)
    files: list[ExportFile] = field(default_factory=list)
    errors: list[ExportFile] = field(default_factory=list)
    written: bool = False
    failure: str | None = None
    cancelled: bool = False
    completed_at: float | None = None

    def is_complete(self, now: float) -> bool:
        return self.written and self.failure is None and now >= self.ready_at

    def progress_text(self, now: float) -> str:
        """Epic's free-text progress. The generator reports no per-patient progress, so the count
        follows the slow-export schedule and stays below N until the files are written."""
        span = self.ready_at - self.kicked_off_at
        share = (1.0 if self.written else 0.0) if span <= 0 else min(1.0, (now - self.kicked_off_at) / span)
        searched = int(self.patients * share)
        if not self.written:
            searched = min(searched, max(self.patients - 1, 0))
        return f"Searched {searched} of {self.patients} patients"


class TooRecentError(Exception):
    """A kick-off inside the (client, Group) window."""


@dataclass(frozen=True)
class ExportSettings:
    patients: int
    seed: int
    max_per_file: int
    cooldown_seconds: float
    slow_export_seconds: float
    error_file: bool
    # The data evolves one day per 24 hours of the clock since ``started_at``, from ``first_day``, so a
    # daily export sees what a day at Epic changes (a few results amended, resources gone or new).
    started_at: float = 0.0
    first_day: int = 0

    def data_day(self, now: float) -> int:
        return self.first_day + max(0, int((now - self.started_at) // 86400))


class ExportManager:
    def __init__(self, settings: ExportSettings, spool_dir: Path, clock: Clock) -> None:
        self.settings = settings
        self.spool_dir = spool_dir
        self.clock = clock
        self._jobs: dict[str, ExportJob] = {}
        self._window: dict[tuple[str, str], tuple[str, float]] = {}  # (client, group) -> (request id, time)
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    # -- kick-off -----------------------------------------------------------------------------------
    def start(self, client_id: str, group_id: str, params: KickoffParameters, request_url: str) -> ExportJob:
        now = self.clock.now()
        request_id = new_request_id()
        with self._lock:
            slot = self._window.get((client_id, group_id))
            if slot and self.settings.cooldown_seconds > 0 and now - slot[1] < self.settings.cooldown_seconds:
                raise TooRecentError(TOO_RECENT_TEXT)
            self._window[(client_id, group_id)] = (request_id, now)
            job = ExportJob(
                request_id=request_id,
                client_id=client_id,
                group_id=group_id,
                request_url=request_url,
                kicked_off_at=now,
                ready_at=now + self.settings.slow_export_seconds,
                patients=self.settings.patients,
                directory=self.spool_dir / request_id,
                day=self.settings.data_day(now),
            )
            self._jobs[request_id] = job
        job.directory.mkdir(parents=True)
        job.errors = self._write_error_file(job, params)
        worker = threading.Thread(target=self._generate, args=(job, params), name=f"export-{request_id}", daemon=True)
        self._threads = [thread for thread in self._threads if thread.is_alive()] + [worker]
        worker.start()
        return job

    def _write_error_file(self, job: ExportJob, params: KickoffParameters) -> list[ExportFile]:
        outcomes = [
            operation_outcome(
                epic_issue("information", "59100", f"Unknown parameter: {name}. Parameter has been ignored.")
            )
            for name in params.ignored_parameters
        ]
        outcomes += [
            operation_outcome(epic_issue("error", "59136", f"Resource type {name} is not supported for bulk export."))
            for name in params.unsupported_types
        ]
        if self.settings.error_file:
            outcomes.append(
                operation_outcome(
                    epic_issue(
                        "warning",
                        "59204",
                        "Client not authorized for Observation - Outside Record Vital Signs. "
                        "Search results of this type have not been included.",
                    )
                )
            )
            outcomes.append(
                operation_outcome(plain_issue("error", "too-costly", "A resource was too large to export as NDJSON."))
            )
        if not outcomes:
            return []
        path = job.directory / "errors.ndjson"
        path.write_text("".join(json.dumps(outcome) + "\n" for outcome in outcomes), encoding="utf-8")
        return [ExportFile(file_id=new_file_id(), type="OperationOutcome", path=path)]

    def _generate(self, job: ExportJob, params: KickoffParameters) -> None:
        try:
            if not params.types:  # only unsupported types were asked for: nothing but the error file
                return
            written = synthetic.write_export(
                params.types,
                self.settings.patients,
                self.settings.seed,
                job.directory / "data",
                max_per_file=self.settings.max_per_file,
                type_filters=params.type_filters or None,
                day=job.day,
            )
            job.files = [
                ExportFile(file_id=new_file_id(), type=type_name, path=Path(path))
                for type_name, paths in written.items()
                for path in paths
            ]
        except Exception as error:  # the job reports failure through its status URL
            log.exception("export %s failed", job.request_id)
            job.failure = f"{type(error).__name__}: {error}"
        finally:
            job.written = True
            if job.cancelled:
                shutil.rmtree(job.directory, ignore_errors=True)

    # -- status, files, delete -------------------------------------------------------------------------
    def get(self, request_id: str) -> ExportJob | None:
        now = self.clock.now()
        with self._lock:
            job = self._jobs.get(request_id)
            if job is None:
                return None
            if job.is_complete(now) and job.completed_at is None:
                job.completed_at = job.ready_at
            if job.completed_at is not None and now - job.completed_at > RETENTION_SECONDS:
                self._drop(job)
                return None
            return job

    def find_file(self, request_id: str, file_id: str) -> ExportFile | None:
        job = self.get(request_id)
        if job is None or not job.is_complete(self.clock.now()):
            return None
        return next((f for f in job.files + job.errors if f.file_id == file_id), None)

    def delete(self, request_id: str) -> bool:
        """Cancel or clean up; deleting an unfinished export frees the (client, Group) window."""
        job = self.get(request_id)
        if job is None:
            return False
        with self._lock:
            unfinished = not job.is_complete(self.clock.now())
            if unfinished and self._window.get((job.client_id, job.group_id), ("",))[0] == job.request_id:
                del self._window[(job.client_id, job.group_id)]
            self._drop(job)
        return True

    def _drop(self, job: ExportJob) -> None:
        self._jobs.pop(job.request_id, None)
        job.cancelled = True
        if job.written:
            shutil.rmtree(job.directory, ignore_errors=True)

    def wait_idle(self, timeout: float) -> None:
        """Give running workers up to ``timeout`` seconds in total to finish (used at shutdown)."""
        deadline = time.monotonic() + timeout
        for worker in self._threads:
            worker.join(max(0.0, deadline - time.monotonic()))


def manifest(job: ExportJob, file_url: Callable[[ExportFile], str], requires_token_bool: bool) -> dict[str, Any]:
    """The completed-status body: no ``count`` and, as in Epic's sample, ``requiresAccessToken`` a string."""
    transaction_time = dt.datetime.fromtimestamp(job.kicked_off_at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "transactionTime": transaction_time,
        "request": job.request_url,
        "requiresAccessToken": True if requires_token_bool else "true",
        "output": [{"type": f.type, "url": file_url(f)} for f in job.files],
        "error": [{"type": f.type, "url": file_url(f)} for f in job.errors],
    }
