"""Benchmark: rebuilding the derived Observation tables from the raw layer (the daily-refresh cost).

    .venv/bin/python -m epic_assets_tests.benchmarks.bench_tables [--rows N] [--warehouse COPY.duckdb]

Loads N Synthea-derived Observations (default 1,000,000, written as a bulk export like bench_warehouse)
into a fresh warehouse, or uses ``--warehouse`` (a copy you may write to, with source 'bench' loaded),
then rebuilds each shipped Observation table with ``build_table`` and prints rows, wall and CPU seconds.
The baseline, measured in the same run for each table, is P: parsing the table's own minimal schema out
of the stored texts (``json_transform`` over every current Observation, nothing written), which no
rebuild from JSON text can avoid. Wall time is noisy on a shared machine; CPU is the steadier measure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from epic_assets.views import compile_view, load_view
from epic_assets.warehouse import open_warehouse
from epic_assets.warehouse.connection import session_settings
from epic_assets.warehouse.tables import build_table, view_definitions
from epic_assets_tests.benchmarks.bench_warehouse import write_snapshot

TABLES = ("observation", "vital_signs", "lab_results", "observation_component", "observation_category")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measured(action: Callable[[], object]) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = action()
    return time.perf_counter() - wall, cpu_seconds() - cpu, result


def parse_floor(con: duckdb.DuckDBPyConnection, view: object) -> Callable[[], object]:
    """P: json_transform of the view's minimal schema over every current Observation text."""
    structure = json.dumps(compile_view(load_view(view)).transform_structure(), separators=(",", ":"))
    query = (
        "select count(*) from (select json_transform(resource, ?) as parsed from raw_resources"
        " where resource_type = 'Observation' and source = 'bench') where parsed is not null"
    )
    return lambda: con.execute(query, [structure]).fetchall()


def report(db: Path, threads: int) -> None:
    definitions = view_definitions(None)
    with open_warehouse(db) as wh:
        wh.con.execute(f"set threads = {threads}")
        print(f"{'table':24s} {'rows':>9s}   {'wall s':>6s} {'CPU s':>6s}   {'P CPU s':>7s}  CPU/P")
        totals = [0.0, 0.0]
        with session_settings(wh.con, preserve_insertion_order="false"):
            for name in TABLES:
                _, parse_cpu, _ = measured(parse_floor(wh.con, definitions[name]))
                wall, cpu, built = measured(lambda n=name: build_table(wh.con, definitions[n], ["bench"]))
                totals[0] += wall
                totals[1] += cpu
                rows = built.rows  # type: ignore[attr-defined]
                print(f"{name:24s} {rows:9,d}   {wall:6.2f} {cpu:6.2f}   {parse_cpu:7.2f}  {cpu / parse_cpu:4.1f}")
        print(f"{'all five':24s} {'':9s}   {totals[0]:6.2f} {totals[1]:6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warehouse", type=Path, help="an existing warehouse copy with source 'bench' loaded")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, DuckDB {duckdb.__version__}")
    if args.warehouse is not None:
        report(args.warehouse, args.threads)
        return
    with tempfile.TemporaryDirectory(prefix="bench-tables-") as tmp:
        root = Path(tmp)
        write_snapshot(root / "day1", args.rows)
        db = root / "wh.duckdb"
        with open_warehouse(db) as wh:
            seconds, _, _ = measured(lambda: wh.load(root / "day1", source="bench"))
        print(f"loaded {args.rows:,} Observations in {seconds:.1f} s")
        report(db, args.threads)


if __name__ == "__main__":
    main()
