"""``epic-assets sql "QUERY"``: run read-only SQL against the warehouse and print the result."""

from __future__ import annotations

import argparse

import duckdb

from epic_assets.cli.common import add_db_argument, format_rows, open_from_args
from epic_assets.errors import EpicAssetsError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sql",
        help="run read-only SQL on the warehouse",
        description="Run one SQL query on the warehouse, opened read-only, and print the result.",
    )
    parser.add_argument("query", metavar="QUERY")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    add_db_argument(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    with open_from_args(args, read_only=True) as warehouse:
        # Read-only means more than the main file: no COPY TO, ATTACH or reading other files either,
        # and the query cannot switch that back on.
        warehouse.con.execute("set enable_external_access = false").fetchall()
        warehouse.con.execute("set lock_configuration = true").fetchall()
        try:
            cursor = warehouse.con.execute(args.query)
            rows = cursor.fetchall() if cursor.description else []
        except duckdb.Error as error:
            raise EpicAssetsError(f"query failed: {str(error).splitlines()[0]}") from None
        columns = [d[0] for d in cursor.description or []]
    print(format_rows(columns, rows, args.format), end="")
    return 0
