"""Helpers shared by the commands: where the DuckDB file is, printing result sets, argument types."""

from __future__ import annotations

import argparse
import csv
import io
import json
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from epic_assets.settings import load_settings
from epic_assets.warehouse import Warehouse, open_warehouse


def data_day(text: str) -> int:
    """argparse type of ``--day``: the emulated Group's day, a whole number of days from 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of days, 0 or more, got {text!r}")
    return value


def add_db_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        type=Path,
        metavar="PATH",
        help="DuckDB file (default: EPIC_DUCKDB_PATH, else EPIC_DATA_DIR/epic.duckdb)",
    )
    parser.add_argument("--memory-limit", metavar="SIZE", help="DuckDB memory_limit for this command, e.g. 2GB")


def warehouse_path(args: argparse.Namespace) -> Path:
    return args.db if args.db is not None else load_settings().duckdb_path


def open_from_args(args: argparse.Namespace, *, read_only: bool) -> Warehouse:
    return open_warehouse(warehouse_path(args), read_only=read_only, memory_limit=args.memory_limit)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def _json_value(value: object) -> object:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def format_rows(columns: Sequence[str], rows: Sequence[Sequence[object]], fmt: str, *, footer: bool = True) -> str:
    """Render a result set as an aligned text table (with a row count footer), CSV or JSON (a list of objects)."""
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_cell(v) for v in row] for row in rows])
        return out.getvalue()
    if fmt == "json":
        records = [{c: _json_value(v) for c, v in zip(columns, row, strict=True)} for row in rows]
        return json.dumps(records, default=str, ensure_ascii=False, indent=2) + "\n"
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    numeric = [
        bool(rows) and all(isinstance(r[i], (int, float, Decimal)) or r[i] is None for r in rows)
        for i in range(len(columns))
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    parts = [line(columns), "  ".join("-" * w for w in widths)]
    parts += [line(r) for r in cells]
    if footer:
        parts.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(parts) + "\n"
