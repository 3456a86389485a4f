"""README's first command: `epic-assets demo` goes from the emulator to DuckDB tables with no settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

from epic_assets.emulator import synthetic


def run_demo(cwd: Path, *more: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EPIC_")}
    return subprocess.run(
        [sys.executable, "-m", "epic_assets", "demo", "--patients", "4", "--seed", "3", *more],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_demo_lands_the_emulator_export_as_tables_a_rerun_changes_nothing_and_a_later_day_is_a_refresh(
    tmp_path: Path,
) -> None:
    first = run_demo(tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    database = tmp_path / "data" / "epic.duckdb"
    exports = sorted((tmp_path / "data" / "exports").iterdir())
    assert len(exports) == 1 and (exports[0] / "manifest.json").is_file()

    with duckdb.connect(str(database), read_only=True) as connection:
        patients = {row[0] for row in connection.execute("select id from patient").fetchall()}
        assert patients == set(synthetic.group_patient_ids(4, seed=3))
        inserted = connection.execute("select inserted from raw_exports").fetchall()
        stored = connection.execute("select count(*) from raw_resources").fetchone()[0]
        assert inserted == [(stored,)]
        orphans = connection.execute(
            "select count(*) from observation where patient_id not in (select id from patient)"
        ).fetchone()[0]
        assert orphans == 0

    second = run_demo(tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    with duckdb.connect(str(database), read_only=True) as connection:
        counts = connection.execute(
            "select inserted, updated, unchanged, deleted from raw_exports order by export_id"
        ).fetchall()
    # The generator is deterministic, so the second snapshot is the first again: all unchanged.
    assert counts[1] == (0, 0, stored, 0)

    later = run_demo(tmp_path, "--day", "3")
    assert later.returncode == 0, later.stdout + later.stderr
    with duckdb.connect(str(database), read_only=True) as connection:
        changes = dict(
            connection.execute("select change, count(*) from raw_changes where export_id = 3 group by all").fetchall()
        )
        observations = connection.execute("select count(*) from observation").fetchone()[0]
        current = connection.execute(
            "select count(*) from raw_resources where resource_type = 'Observation'"
        ).fetchone()[0]
    assert changes.get("inserted", 0) > 0 and changes.get("updated", 0) > 0
    assert "rows, refreshed " in later.stdout
    assert observations == current
