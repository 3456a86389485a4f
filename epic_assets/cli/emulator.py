"""``epic-assets emulator``: serve a local Epic (Backend Services + Group bulk export) until stopped."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from epic_assets.cli.common import data_day
from epic_assets.emulator import FAULT_USAGE, EmulatorConfig, parse_faults, run_emulator
from epic_assets.settings import EPIC_SANDBOX_GROUP_ID


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "emulator",
        help="run a local Epic emulator with synthetic data",
        description=(
            "Serve Epic's token endpoint, SMART discovery, Group $export, status, files and Binary on loopback, "
            "with Epic-shaped synthetic data. Prints the FHIR base URL and Group id when ready; stop with "
            "Ctrl-C or SIGTERM."
        ),
    )
    parser.add_argument("--jwks", required=True, metavar="FILE_OR_URL", help="the client's JWKS file/PEM or JWKS URL")
    parser.add_argument("--client-id", required=True, help="the client id assertions must carry as iss/sub")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default 0: any free port)")
    parser.add_argument("--patients", type=int, default=10, help="patients in the Group (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the synthetic data (default 0)")
    parser.add_argument(
        "--day",
        type=data_day,
        default=0,
        help="days after the data's anchor date to start at (default 0); each later day a few resources are"
        " amended, gone or new, and the emulator moves on one day every 24 hours",
    )
    parser.add_argument("--group-id", default=EPIC_SANDBOX_GROUP_ID, help="the Group id to serve")
    parser.add_argument("--max-per-file", type=int, default=3000, help="resources per NDJSON file (default 3000)")
    parser.add_argument("--token-lifetime", type=int, default=3600, help="access token lifetime in seconds")
    parser.add_argument("--spool-dir", type=Path, help="keep export files here instead of a temporary directory")
    parser.add_argument("--quiet", action="store_true", help="do not print the access log to stderr")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help=f"inject a fault (repeatable): {', '.join(FAULT_USAGE)}",
    )
    parser.add_argument(
        "--grant",
        action="append",
        default=None,
        metavar="TYPE",
        help=(
            "grant the client this resource type's API (repeatable; default: all types). A kick-off naming "
            "an ungranted type gets Epic's body-less 403; Binary reads need DocumentReference"
        ),
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    config = EmulatorConfig(
        jwks=args.jwks,
        client_id=args.client_id,
        host=args.host,
        port=args.port,
        patients=args.patients,
        seed=args.seed,
        group_id=args.group_id,
        max_per_file=args.max_per_file,
        token_lifetime_seconds=args.token_lifetime,
        faults=parse_faults(args.fault),
        spool_dir=args.spool_dir,
        granted_types=None if args.grant is None else frozenset(args.grant),
        day=args.day,
    )
    if args.host not in {"127.0.0.1", "localhost", "::1"}:
        print(f"warning: serving on {args.host}, not loopback; the emulator has no TLS", file=sys.stderr)
    if not args.quiet:
        # The access log carries request lines and statuses only, never tokens or assertions.
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        access_log = logging.getLogger("epic_assets.emulator.access")
        access_log.addHandler(handler)
        access_log.setLevel(logging.INFO)
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with run_emulator(config) as emulator:
            print(f"FHIR base URL : {emulator.base_url}")
            print(f"token URL     : {emulator.token_url}")
            print(f"Group id      : {emulator.group_id}")
            print("emulator ready; Ctrl-C or SIGTERM stops it", flush=True)
            while not stop.wait(0.5):
                pass
        print("emulator stopped", file=sys.stderr)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
