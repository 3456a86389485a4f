"""A faithful local Epic: Backend Services auth, Group bulk export, Epic's quirks and injectable faults.

Start one with :func:`run_emulator` (``EmulatorConfig`` says how), or ``epic-assets emulator`` on the
command line. The synthetic, Epic-shaped data it serves comes from :mod:`epic_assets.emulator.synthetic`.
"""

from epic_assets.emulator.clock import Clock, ManualClock, SystemClock
from epic_assets.emulator.config import EmulatorConfig
from epic_assets.emulator.faults import FAULT_NAMES, FAULT_USAGE, FaultPlan, parse_faults
from epic_assets.emulator.runtime import RunningEmulator, run_emulator

__all__ = [
    "FAULT_NAMES",
    "FAULT_USAGE",
    "Clock",
    "EmulatorConfig",
    "FaultPlan",
    "ManualClock",
    "RunningEmulator",
    "SystemClock",
    "parse_faults",
    "run_emulator",
]
