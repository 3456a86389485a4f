"""Benchmark: loading Epic-sized snapshots into the raw layer, against DuckDB's own JSON parse.

    .venv/bin/python -m epic_assets_tests.benchmarks.bench_warehouse [--rows N] [--memory-limit 1GB]

Builds N Observations (default 1,000,000) by replicating the Synthea Observations with unique ids into
files of 10,000 lines (like a bulk export; ``--lines-per-file``), then reports, from one run:

* L: DuckDB's own full parse, ``select count(*) from read_json(<files>, format='newline_delimited')``.
  DuckDB parses every line (yyjson) but builds no values for ``count(*)``; the same read building
  every column is printed next to it, as is reading the lines and extracting type + id (what staging does);
* a plain lossless load (each line into one VARCHAR column of a DuckDB file), with DuckDB's default
  compression and with the zstd text column the raw layer uses: the cost of storing the texts at all;
* the raw load with change detection (first snapshot), as seconds and as a multiple of L;
* a reload of the same snapshot (should be a no-op);
* a second snapshot with 1% updated, 0.5% deleted and 0.5% new resources;
* building every derived table after day 1, and bringing them up to date after day 2 (only the
  resources that changed are flattened again): the other half of a daily refresh;
* peak RSS of a process doing the first load, for N and N/4 rows, under a fixed DuckDB memory_limit
  (each size in its own subprocess, so the peaks do not mix).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from epic_assets.warehouse import open_warehouse
from epic_assets_tests.conftest import REPO_ROOT, shared_dir


def synthea_observations() -> list[bytes]:
    shared = shared_dir()
    if shared is None:
        sys.exit("../shared (Synthea data) is not beside this checkout")
    source = shared / "data" / "synthea" / "bulk-data-server-r4-100pt"
    lines: list[bytes] = []
    for path in sorted(source.glob("Observation.*.ndjson.gz")):
        lines += gzip.decompress(path.read_bytes()).splitlines()
    return lines


def write_snapshot(directory: Path, rows: int, *, changed: bool = False, lines_per_file: int = 10_000) -> None:
    """``rows`` Observations with unique ids; ``changed`` makes day two (1% updated, 0.5% gone, 0.5% new)."""
    directory.mkdir(parents=True)
    base = synthea_observations()
    out = None
    written = 0

    def emit(line: bytes) -> None:
        nonlocal out, written
        if written % lines_per_file == 0:
            if out is not None:
                out.close()
            out = (directory / f"Observation.{written // lines_per_file:03d}.ndjson").open("wb")
        out.write(line + b"\n")
        written += 1

    for n in range(rows):
        line = base[n % len(base)]
        at = line.index(b'"id":"') + 6
        line = line[:at] + b"r%d-" % (n // len(base)) + line[at:]
        if changed and n % 200 == 7:
            continue  # deleted
        if changed and n % 100 == 3:
            line = line.replace(b'"status":"final"', b'"status":"amended"', 1)
        emit(line)
        if changed and n % 200 == 11:
            emit(line.replace(b'"id":"', b'"id":"new-', 1))
    if out is not None:
        out.close()


def timed(action) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    value = action()
    return time.perf_counter() - started, value


_LINES = (
    "columns={'line': 'VARCHAR'}, delim=chr(0), quote='', escape='', header=false, auto_detect=false, strict_mode=false"
)


def duckdb_parse_seconds(pattern: Path, select: str = "count(*)") -> float:
    con = duckdb.connect()
    seconds, _ = timed(
        lambda: con.execute(f"select {select} from read_json('{pattern}', format='newline_delimited') t").fetchall()
    )
    return seconds


def duckdb_keys_seconds(path: Path) -> float:
    """Read the lines as text and extract resourceType + id with one JSON parse each (no write)."""
    con = duckdb.connect()
    query = f"select count(json_extract_string(line, ['$.resourceType', '$.id'])) from read_csv('{path}', {_LINES})"
    seconds, _ = timed(lambda: con.execute(query).fetchall())
    return seconds


def concatenate(directory: Path, target: Path) -> None:
    with target.open("wb") as out:
        for path in sorted(directory.iterdir()):
            out.write(path.read_bytes())


def plain_load_seconds(directory: Path, db: Path, compression: str | None = None) -> float:
    con = duckdb.connect(str(db))
    reader = f"read_csv('{directory / '*.ndjson'}', {_LINES})"
    using = f" using compression {compression}" if compression else ""
    con.execute(f"create table lines (line varchar{using})")
    seconds, _ = timed(lambda: con.execute(f"insert into lines select line from {reader}").fetchall())
    con.close()
    return seconds


def child_load(db: Path, directory: Path, memory_limit: str) -> None:
    """Run in a subprocess: one snapshot load; prints seconds and peak RSS as JSON."""
    with open_warehouse(db, memory_limit=memory_limit) as wh:
        cpu_before = cpu_seconds()
        seconds, result = timed(lambda: wh.load(directory, source="bench"))
        cpu = cpu_seconds() - cpu_before
    print(
        json.dumps(
            {"seconds": seconds, "cpu": cpu, "inserted": result.total("inserted"), "peak_mib": peak_rss_kib() / 1024}
        )
    )


def cpu_seconds() -> float:
    """User + system CPU time of this process (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_kib() -> int:
    """This process's own peak RSS. (getrusage's ru_maxrss survives exec on Linux, so a child started
    by a big parent would report the parent's peak.)"""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def load_in_subprocess(db: Path, directory: Path, memory_limit: str) -> dict[str, float]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "epic_assets_tests.benchmarks.bench_warehouse",
            "--child",
            str(db),
            str(directory),
            memory_limit,
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--memory-limit", default="256MB")
    parser.add_argument("--lines-per-file", type=int, default=10_000, help="export file size (Epic: ~3,000)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_load(Path(args.child[0]), Path(args.child[1]), args.child[2])
        return

    rows, small_rows = args.rows, max(args.rows // 4, 1)
    with tempfile.TemporaryDirectory(prefix="bench-warehouse-") as scratch:
        root = Path(scratch)
        per_file = args.lines_per_file
        build, _ = timed(lambda: write_snapshot(root / "day1", rows, lines_per_file=per_file))
        write_snapshot(root / "day2", rows, changed=True, lines_per_file=per_file)
        write_snapshot(root / "small", small_rows, lines_per_file=per_file)
        size_mb = sum(p.stat().st_size for p in (root / "day1").iterdir()) / 1e6
        print(
            f"input: {rows:,} Observations in {len(list((root / 'day1').iterdir()))} files, {size_mb:,.0f} MB"
            f" (built in {build:.1f} s); memory_limit {args.memory_limit};"
            f" {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
        )

        concatenate(root / "day1", root / "one-file.ndjson")
        parse = duckdb_parse_seconds(root / "one-file.ndjson")
        parse_files = duckdb_parse_seconds(root / "day1" / "*.ndjson")
        built = duckdb_parse_seconds(root / "one-file.ndjson", "count_if(hash(t) <> 0)")
        keys = duckdb_keys_seconds(root / "one-file.ndjson")
        plain = plain_load_seconds(root / "day1", root / "plain.duckdb")
        plain_zstd = plain_load_seconds(root / "day1", root / "plain-zstd.duckdb", "zstd")
        print(f"L  DuckDB read_json full parse, one file:  {parse:7.2f} s  (count(*): no values built)")
        print(f"   the same building every column:          {built:7.2f} s  = {built / parse:4.1f} L")
        print(f"   lines as text + type/id from one parse:  {keys:7.2f} s  = {keys / parse:4.1f} L  (no write)")
        print(f"   the same over the export's files:        {parse_files:7.2f} s  = {parse_files / parse:4.1f} L")
        print(f"   plain lossless load (lines -> VARCHAR):  {plain:7.2f} s  = {plain / parse:4.1f} L")
        print(f"   the same into a zstd column:             {plain_zstd:7.2f} s  = {plain_zstd / parse:4.1f} L")

        db = root / "epic.duckdb"
        first = load_in_subprocess(db, root / "day1", args.memory_limit)
        ratio = first["seconds"] / parse
        print(
            f"   raw load + change detection (day 1):     {first['seconds']:7.2f} s  = {ratio:4.1f} L"
            f"  (target <= 3 L; {first['inserted']:,} inserted; CPU {first['cpu']:.1f} s)"
        )
        with open_warehouse(db, memory_limit=args.memory_limit) as wh:
            reload_seconds, reload = timed(lambda: wh.load(root / "day1", source="bench"))
            built_seconds, built = timed(wh.build_tables)
            second_seconds, second = timed(lambda: wh.load(root / "day2", source="bench"))
            refreshed_seconds, refreshed = timed(wh.build_tables)
        assert reload.already_loaded
        print(f"   reload of the same snapshot (no-op):     {reload_seconds:7.2f} s  = {reload_seconds / parse:4.1f} L")
        print(
            f"   second snapshot (day 2):                 {second_seconds:7.2f} s  = {second_seconds / parse:4.1f} L"
            f"  (inserted {second.total('inserted'):,}, updated {second.total('updated'):,},"
            f" unchanged {second.total('unchanged'):,}, deleted {second.total('deleted'):,})"
        )

        for label, seconds, tables in (
            ("derived tables built after day 1:       ", built_seconds, built),
            ("derived tables brought up to date, day 2:", refreshed_seconds, refreshed),
        ):
            filled = sorted((t for t in tables if t.rows), key=lambda t: -t.seconds)
            per_table = ", ".join(f"{t.name} {t.how} {t.seconds:.1f} s" for t in filled)
            print(f"   {label} {seconds:7.2f} s  = {seconds / parse:4.1f} L  ({len(tables)} tables; {per_table})")

        small = load_in_subprocess(root / "small.duckdb", root / "small", args.memory_limit)
        big_rss, small_rss = first["peak_mib"], small["peak_mib"]
        print(
            f"peak RSS of a first load: {small_rows:,} rows {small_rss:,.0f} MiB; {rows:,} rows {big_rss:,.0f} MiB"
            f" (x{rows / small_rows:.0f} input -> x{big_rss / small_rss:.2f} memory)"
        )
        print("load average (1, 5, 15 min) at the end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
