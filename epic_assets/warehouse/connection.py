"""Opening the DuckDB file, with the single-writer lock turned into a plain sentence."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb

from epic_assets.errors import EpicAssetsError

# DuckDB: 'Could not set lock on file "<path>": Conflicting lock is held in <program> (PID <n>) by user <u>.'
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


class WarehouseLockedError(EpicAssetsError):
    """Another process has the DuckDB file open for writing."""


def connect(path: Path, *, read_only: bool = False, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """Open ``path`` (creating its directory when writing); a held lock becomes one readable sentence."""
    path = Path(path)
    if read_only and not path.is_file():
        raise EpicAssetsError(f"no warehouse at {path} yet (run 'epic-assets load' first)")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    config: dict[str, str] = {}
    if memory_limit:
        config["memory_limit"] = memory_limit
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.IOException as error:
        raise _lock_error(path, str(error)) or EpicAssetsError(f"cannot open warehouse {path}: {error}") from None
    # DuckDB's progress bar would scribble over the command's own output.
    con.execute("set enable_progress_bar = false").fetchall()
    return con


@contextmanager
def session_settings(con: duckdb.DuckDBPyConnection, **values: str) -> Iterator[None]:
    """DuckDB settings (name = SQL value) for the statements inside the block, reset afterwards."""
    for name, value in values.items():
        con.execute(f"set {name} = {value}")
    try:
        yield
    finally:
        for name in values:
            with suppress(duckdb.Error):  # a connection a fatal error invalidated has nothing to reset
                con.execute(f"reset {name}")


def _lock_error(path: Path, message: str) -> WarehouseLockedError | None:
    if "lock" not in message.lower():
        return None
    match = _LOCK_HOLDER.search(message)
    holder = f"process {match['pid']} ({match['program']})" if match else "another process"
    return WarehouseLockedError(
        f"The warehouse {path} is locked by {holder}, and DuckDB allows only one writer at a time,"
        " so wait for that process to finish or stop it and try again."
    )
