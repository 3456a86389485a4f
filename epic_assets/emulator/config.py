"""What an emulator instance is configured with."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from epic_assets.emulator.clock import Clock, SystemClock
from epic_assets.emulator.faults import FaultPlan
from epic_assets.settings import EPIC_SANDBOX_GROUP_ID

DEFAULT_COOLDOWN_HOURS = 24.0


@dataclass(frozen=True)
class EmulatorConfig:
    """``jwks`` is the client's registered key: a JWKS/PEM file path or a loopback JWKS URL (JKU)."""

    jwks: str | Path
    client_id: str
    host: str = "127.0.0.1"
    port: int = 0
    patients: int = 10
    seed: int = 0
    group_id: str = EPIC_SANDBOX_GROUP_ID
    max_per_file: int = 3000
    token_lifetime_seconds: int = 3600
    cooldown_hours: float = DEFAULT_COOLDOWN_HOURS
    faults: FaultPlan = field(default_factory=FaultPlan)
    clock: Clock = field(default_factory=SystemClock)
    spool_dir: Path | None = None  # default: a temporary directory removed at stop
    # The FHIR APIs (resource types) granted to the client; None grants every supported type. A kick-off
    # naming another type gets Epic's body-less 403; Binary reads need DocumentReference.
    granted_types: frozenset[str] | None = None
    # The synthetic data's day at start (0: as generated); it advances one day per 24 h of ``clock``.
    day: int = 0

    @property
    def effective_cooldown_hours(self) -> float:
        return self.faults.cooldown_hours if self.faults.cooldown_hours is not None else self.cooldown_hours
