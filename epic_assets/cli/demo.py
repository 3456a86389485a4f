"""``epic-assets demo``: the whole path on the built-in emulator — export, download, DuckDB tables.

It needs no credentials and no network: a throw-away key registers with an in-process emulator, the
export is downloaded into ``EPIC_DATA_DIR/exports/`` in the layout ``epic-assets load`` reads, and the
warehouse at ``EPIC_DUCKDB_PATH`` gets the raw layer, the change log and every derived table.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from epic_assets.cli.common import data_day
from epic_assets.cli.load import load_and_report
from epic_assets.emulator.selfcheck import run_selfcheck
from epic_assets.settings import load_settings
from epic_assets.warehouse import open_warehouse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="export from the built-in Epic emulator and load it into DuckDB tables",
        description=(
            "Start the built-in Epic emulator, run a full Bulk Data export against it over HTTP, keep the files"
            " under EPIC_DATA_DIR/exports/, load them into the DuckDB warehouse and build every table."
        ),
    )
    parser.add_argument("--patients", type=int, default=50, help="patients in the emulated Group (default 50)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the synthetic data")
    parser.add_argument(
        "--day",
        type=data_day,
        default=0,
        help="the emulated Group's day (default 0); run again with --day 1, 2, ... to see a daily refresh:"
        " what changed, and tables brought up to date from the changes",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    export_dir = settings.data_dir / "exports" / f"emulator-{stamp}"
    report = run_selfcheck(patients=args.patients, seed=args.seed, download_dir=export_dir, day=args.day)
    if not report.ok:
        return 1
    print(f"\nexport saved in {export_dir}")
    with open_warehouse(settings.duckdb_path) as warehouse:
        load_and_report(warehouse, export_dir, settings, source=None, incremental=False, tables=True)
    print(f"\nwarehouse: {settings.duckdb_path}")
    print('try: epic-assets sql "select vital_sign, count(*), avg(value) from vital_signs group by all"')
    print(f'next day: epic-assets demo --day {args.day + 1}  (then: epic-assets sql "select * from raw_changes")')
    return 0
