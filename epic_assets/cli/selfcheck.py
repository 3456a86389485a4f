"""``epic-assets selfcheck``: a full export against a throw-away local emulator, over real HTTP."""

from __future__ import annotations

import argparse

from epic_assets.emulator.selfcheck import run_selfcheck


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "selfcheck",
        help="run one bulk export end to end against a local emulator",
        description=(
            "Generate a temporary key, start an in-process Epic emulator, then walk discovery, token, kick-off, "
            "polling, download, data integrity and DELETE. Exits non-zero if any step fails."
        ),
    )
    parser.add_argument("--patients", type=int, default=20, help="patients in the emulated Group (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the synthetic data")
    parser.add_argument("--max-per-file", type=int, default=3000, help="resources per NDJSON file")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    report = run_selfcheck(patients=args.patients, seed=args.seed, max_per_file=args.max_per_file)
    return 0 if report.ok else 1
