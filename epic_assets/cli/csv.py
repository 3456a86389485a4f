"""``epic-assets csv --out DIR``: dump warehouse tables to CSV or Parquet files."""

from __future__ import annotations

import argparse
from pathlib import Path

from epic_assets import identifiers
from epic_assets.cli.common import add_db_argument, open_from_args
from epic_assets.errors import EpicAssetsError
from epic_assets.warehouse import Warehouse
from epic_assets.warehouse.schema import RAW_PREFIX


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "csv",
        help="dump tables to CSV or Parquet files",
        description=(
            "Write tables to DIR/<table>.csv (or .parquet). Default: every derived table;"
            " name raw tables (raw_changes, raw_quarantine, …) with --table to include them."
        ),
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory (created)")
    parser.add_argument("--table", action="append", default=[], metavar="T", help="table to dump (repeatable)")
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv")
    add_db_argument(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    with open_from_args(args, read_only=True) as warehouse:
        for path, rows in dump_tables(warehouse, args.out, args.table, args.format):
            print(f"{path}: {rows} rows")
    return 0


def dump_tables(warehouse: Warehouse, out: Path, tables: list[str], fmt: str) -> list[tuple[Path, int]]:
    """Write each table to ``out/<table>.<fmt>``; names are validated, so files stay inside ``out``."""
    names = [warehouse.existing_table(t) for t in tables] or [
        t for t in warehouse.tables() if not t.startswith(RAW_PREFIX)
    ]
    if not names:
        raise EpicAssetsError(f"{warehouse.path} has no derived tables yet; name raw tables with --table")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        target = (out / f"{name}.{fmt}").resolve()
        if not target.is_relative_to(out.resolve()):
            raise EpicAssetsError(f"refusing to write {target} outside {out}")
        options = "format csv, header true" if fmt == "csv" else "format parquet"
        warehouse.con.execute(
            f"copy (select * from {identifiers.quote_sql_identifier(name)})"
            f" to {identifiers.quote_sql_literal(str(target))} ({options})"
        ).fetchall()
        rows = warehouse.con.execute(f"select count(*) from {identifiers.quote_sql_identifier(name)}").fetchall()
        written.append((target, int(rows[0][0])))
    return written
