"""Fault injection: parsing ``--fault NAME[=VALUE]`` and counting the requests each fault applies to.

Count-based faults fail the first N requests of their kind, counted from the emulator's start, so a
test knows exactly which request fails and that the client's retry is the one that succeeds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, replace
from typing import Any

from epic_assets.errors import EpicAssetsError


@dataclass(frozen=True)
class FaultPlan:
    """Which faults are active. The defaults describe a well-behaved Epic."""

    kickoff_503: int = 0  # first N kick-offs answer 503
    status_429: int = 0  # first N status polls answer 429
    status_500: int = 0  # the N status polls after those answer 500
    retry_after: int | None = None  # seconds put in Retry-After on 202s (and on injected 429/503s)
    slow_export: float = 0.0  # an export takes at least this many seconds
    token_expiry: float | None = None  # tokens die after this many seconds while still claiming expires_in
    file_500: int = 0  # first N file downloads answer 500
    file_drop: int = 0  # first N file downloads close the connection halfway through the body
    error_file: bool = False  # every export's error file also carries one warning and one error
    expired_files: bool = False  # manifests list files that then answer 404
    cooldown_hours: float | None = None  # overrides the 24-hour window (0 disables it)
    requires_token_bool: bool = False  # manifest says requiresAccessToken: true (JSON bool)
    token_400: int = 0  # first N token requests get a bare 400 (reported by clients, succeeds on retry)
    retry_after_date: int | None = None  # like retry_after, but sent in the HTTP-date form
    unmapped_client: bool = False  # valid assertions get 400 unauthorized_client (no background user)
    patient_only_fails: bool = False  # a Group kick-off with _type=Patient alone gets a 400 (reported on Epic)


def _count(value: str | None) -> int:
    number = int(value) if value is not None else 1
    if number < 0:
        raise ValueError("must not be negative")
    return number


def _seconds(value: str | None) -> float:
    if value is None:
        raise ValueError("needs a value")
    number = float(value)
    if number < 0:
        raise ValueError("must not be negative")
    return number


def _flag(value: str | None) -> bool:
    if value is not None:
        raise ValueError("takes no value")
    return True


# fault name -> (FaultPlan field, value parser, what the value means)
_FAULTS: dict[str, tuple[str, Callable[[str | None], Any], str]] = {
    "kickoff-503": ("kickoff_503", _count, "=N"),
    "status-429": ("status_429", _count, "=N"),
    "status-500": ("status_500", _count, "=N"),
    "retry-after": ("retry_after", lambda v: int(_seconds(v)), "=SECONDS"),
    "slow-export": ("slow_export", _seconds, "=SECONDS"),
    "token-expiry": ("token_expiry", _seconds, "=SECONDS"),
    "file-500": ("file_500", _count, "=N"),
    "file-drop": ("file_drop", _count, "=N"),
    "error-file": ("error_file", _flag, ""),
    "expired-files": ("expired_files", _flag, ""),
    "cooldown": ("cooldown_hours", _seconds, "=HOURS"),
    "requires-token-bool": ("requires_token_bool", _flag, ""),
    "token-400": ("token_400", _count, "=N"),
    "retry-after-date": ("retry_after_date", lambda v: int(_seconds(v)), "=SECONDS"),
    "unmapped-client": ("unmapped_client", _flag, ""),
    "patient-only-fails": ("patient_only_fails", _flag, ""),
}
FAULT_NAMES: tuple[str, ...] = tuple(_FAULTS)
FAULT_USAGE: tuple[str, ...] = tuple(f"{name}{shape}" for name, (_, _, shape) in _FAULTS.items())
assert {field for field, _, _ in _FAULTS.values()} == {f.name for f in fields(FaultPlan)}


def parse_faults(specs: Iterable[str]) -> FaultPlan:
    """Turn ``["file-drop=1", "error-file"]`` into a :class:`FaultPlan`; bad input names the fault."""
    plan = FaultPlan()
    for spec in specs:
        name, sep, raw = spec.partition("=")
        name = name.strip()
        if name not in _FAULTS:
            raise EpicAssetsError(f"unknown fault {name!r}; known faults: {', '.join(FAULT_NAMES)}")
        field, parse, shape = _FAULTS[name]
        try:
            value = parse(raw.strip() if sep else None)
        except ValueError as error:
            raise EpicAssetsError(f"fault {spec!r}: expected {name}{shape} ({error})") from None
        plan = replace(plan, **{field: value})
    return plan


class RequestCounters:
    """Per-kind request counters (kick-off, status, file) shared by the server's threads."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def next(self, kind: str) -> int:
        """Count one more request of ``kind`` and return its 1-based ordinal."""
        with self._lock:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            return self._counts[kind]
