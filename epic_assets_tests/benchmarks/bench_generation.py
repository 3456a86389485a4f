"""Benchmark: synthetic Epic export generation (``write_export``) against plain ``json.dumps`` + write.

    .venv/bin/python -m epic_assets_tests.benchmarks.bench_generation [--resources N] [--seed S]

Generates about N resources of all supported types (default 1,000,000) into a temporary directory and
reports resources/s, MB/s, wall and CPU time (CPU time is the steadier number on a busy machine) and
peak memory. The baseline, measured in the same run, serialises one fixed
resource (a generated BP Observation) N times with ``json.dumps(separators=(",", ":"))`` and writes it
through the same kind of buffered file: the cost of merely producing that much NDJSON the obvious way.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from epic_assets.emulator import synthetic
from epic_assets.emulator.synthetic.export import iter_rows

_SAMPLE_PATIENTS = 1000  # enough to estimate resources per patient within ~1%


def _resources_per_patient(seed: int) -> float:
    total = sum(1 for name in synthetic.SUPPORTED_TYPES for _ in iter_rows(name, _SAMPLE_PATIENTS, seed))
    return total / _SAMPLE_PATIENTS


def _count(paths: dict[str, list[Path]]) -> tuple[int, int]:
    lines = size = 0
    for files in paths.values():
        for path in files:
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 22):
                    lines += chunk.count(b"\n")
                    size += len(chunk)
    return lines, size


def _baseline(count: int, directory: Path) -> tuple[float, float]:
    """Wall and CPU seconds to dumps + write ``count`` copies of one fixed resource."""
    fixed = next(obs for obs in synthetic.iter_resources("Observation", 1, 0) if "component" in obs)
    started, cpu = time.perf_counter(), time.process_time()
    with (directory / "baseline.ndjson").open("w", encoding="utf-8", buffering=1 << 20) as handle:
        for _ in range(count):
            handle.write(json.dumps(fixed, separators=(",", ":"), ensure_ascii=False))
            handle.write("\n")
    return time.perf_counter() - started, time.process_time() - cpu


def _peak_rss_mb() -> float:
    # ru_maxrss is kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _traced_peak_mb(patients: int, seed: int, directory: Path) -> float:
    tracemalloc.start()
    try:
        synthetic.write_export(synthetic.SUPPORTED_TYPES, patients, seed, directory)
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=1_000_000, help="approximate number of resources")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    per_patient = _resources_per_patient(args.seed)
    patients = max(1, math.ceil(args.resources * 1.02 / per_patient))  # aim slightly over rather than under
    rss_before = _peak_rss_mb()
    with tempfile.TemporaryDirectory(prefix="bench-generation-") as temp:
        directory = Path(temp)
        started, cpu = time.perf_counter(), time.process_time()
        written = synthetic.write_export(synthetic.SUPPORTED_TYPES, patients, args.seed, directory / "export")
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        rss_after = _peak_rss_mb()
        count, size = _count(written)
        files = sum(len(paths) for paths in written.values())
        for paths in written.values():
            for path in paths:
                path.unlink()
        baseline, baseline_cpu = _baseline(count, directory)
        (directory / "baseline.ndjson").unlink()
        small = max(1, patients // 20)
        traced = _traced_peak_mb(small, args.seed, directory / "traced")

    print(f"patients:            {patients:,} (~{per_patient:.1f} resources each)")
    print(f"resources:           {count:,} in {files} files, {size / 1e6:,.1f} MB NDJSON")
    print(
        f"write_export:        {elapsed:.2f} s wall ({cpu:.2f} s CPU) = {count / elapsed:,.0f} resources/s, "
        f"{size / 1e6 / elapsed:,.1f} MB/s"
    )
    print(
        f"baseline json.dumps: {baseline:.2f} s wall ({baseline_cpu:.2f} s CPU) = {count / baseline:,.0f} resources/s "
        "(one fixed BP Observation, same writer)"
    )
    print(
        f"ratio:               write_export takes {elapsed / baseline:.2f}x the baseline's wall time, "
        f"{cpu / baseline_cpu:.2f}x its CPU time"
    )
    print(f"peak RSS:            {rss_after:,.0f} MB (process; {rss_before:,.0f} MB before generating)")
    print(f"traced heap peak:    {traced:.1f} MB while writing {small:,} patients (tracemalloc; flat in patients)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
