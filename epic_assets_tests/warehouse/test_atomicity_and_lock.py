"""A load is all or nothing, even when killed; a busy warehouse is reported in one plain sentence."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from epic_assets.errors import EpicAssetsError
from epic_assets.warehouse import WarehouseLockedError, load_export, open_warehouse
from epic_assets_tests.conftest import REPO_ROOT
from epic_assets_tests.warehouse.exports import resource, write_export

# Loads an export in a child process and says "writing" just before the big insert of the transaction.
_LOAD_AND_ANNOUNCE = """
import sys
from pathlib import Path
from epic_assets.warehouse import load_export, open_warehouse

class Announcing:
    def __init__(self, con):
        self._con = con
    def __getattr__(self, name):
        return getattr(self._con, name)
    def execute(self, sql, *args, **kwargs):
        if "insert into raw_resource_versions" in sql:
            print("writing", flush=True)
        return self._con.execute(sql, *args, **kwargs)

wh = open_warehouse(sys.argv[1])
load_export(Announcing(wh.con), Path(sys.argv[2]), source="s1")
print("done", flush=True)
"""

# Loads an export with the file-size limit set a few MB above the warehouse's size: "disk full".
_LOAD_ON_A_FULL_DISK = """
import resource, signal, sys
from pathlib import Path
from epic_assets.errors import EpicAssetsError
from epic_assets.warehouse import open_warehouse

db = Path(sys.argv[1])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # make writes beyond the limit fail with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (db.stat().st_size + 4_000_000, resource.RLIM_INFINITY))
try:
    with open_warehouse(db) as wh:
        wh.load(Path(sys.argv[2]), source="s1")
except EpicAssetsError as error:
    print(error)
    sys.exit(1)
"""

_HOLD_OPEN = """
import sys, time
from epic_assets.warehouse import open_warehouse
wh = open_warehouse(sys.argv[1])
print("ready", flush=True)
time.sleep(60)
"""


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _state(db: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    with open_warehouse(db, read_only=True) as wh:
        resources = wh.con.execute("select id, content_hash, content_length from raw_resources order by id").fetchall()
        exports = wh.con.execute("select export_id, source, resources from raw_exports order by 1").fetchall()
    return resources, exports


def test_an_exception_part_way_rolls_everything_back(tmp_path: Path) -> None:
    db = tmp_path / "epic.duckdb"
    first = write_export(tmp_path / "e1", {"Patient.ndjson": [resource("Patient", "p1"), resource("Patient", "p2")]})
    second = write_export(tmp_path / "e2", {"Patient.ndjson": [resource("Patient", "p3"), "junk"]})
    with open_warehouse(db) as wh:
        wh.load(first, source="s1")
    before = _state(db)

    with open_warehouse(db) as wh, pytest.raises(EpicAssetsError, match="rolled back, so the warehouse is unchanged"):
        load_export(wh.con, second, source="s1", fail_before_commit=True)

    assert _state(db) == before
    with open_warehouse(db, read_only=True) as wh:
        assert wh.con.execute("select count(*) from raw_quarantine").fetchall() == [(0,)]
        assert wh.con.execute("select count(*) from raw_changes where export_id > 1").fetchall() == [(0,)]
    with open_warehouse(db) as wh:  # and the warehouse keeps working
        assert wh.load(second, source="s1").export_id == 2


def test_a_load_killed_mid_write_leaves_the_previous_state_intact(tmp_path: Path) -> None:
    db = tmp_path / "epic.duckdb"
    small = write_export(tmp_path / "small", {"Observation.ndjson": [resource("Observation", "o1")]})
    padding = "x" * 500
    big = write_export(
        tmp_path / "big",
        {"Observation.ndjson": (resource("Observation", f"big{i}", note=padding) for i in range(300_000))},
    )
    with open_warehouse(db) as wh:
        wh.load(small, source="s1")
    before = _state(db)

    child = _python(_LOAD_AND_ANNOUNCE, str(db), str(big))
    assert child.stdout is not None
    marker = child.stdout.readline().strip()
    if marker != "writing":
        child.wait(timeout=30)
        pytest.fail(
            f"the loading child said {marker!r}, exit {child.returncode}: {child.stderr.read() if child.stderr else ''}"
        )
    time.sleep(0.2)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)

    assert child.returncode == -signal.SIGKILL, "the load finished before it could be killed; use a bigger input"
    assert _state(db) == before
    after = write_export(tmp_path / "after", {"Observation.ndjson": [resource("Observation", "o2")]})
    with open_warehouse(db) as wh:  # reopenable for writing, and the next load is export 2
        result = wh.load(after, source="s1")
        assert (result.export_id, result.total("inserted"), result.total("deleted")) == (2, 1, 1)


def test_a_disk_that_fills_up_part_way_leaves_the_previous_state_and_says_so(tmp_path: Path) -> None:
    db = tmp_path / "epic.duckdb"
    small = write_export(tmp_path / "small", {"Observation.ndjson": [resource("Observation", "o1")]})
    # Incompressible notes, so the texts need far more than the 4 MB the child may still write.
    big = write_export(
        tmp_path / "big",
        {"Observation.ndjson": (resource("Observation", f"b{i}", note=os.urandom(200).hex()) for i in range(60_000))},
    )
    with open_warehouse(db) as wh:
        wh.load(small, source="s1")
    before = _state(db)

    child = _python(_LOAD_ON_A_FULL_DISK, str(db), str(big))
    out, err = child.communicate(timeout=120)

    assert child.returncode == 1, err
    assert "failed and was rolled back, so the warehouse is unchanged" in out
    assert "File too large" in out  # DuckDB's own words for EFBIG, passed on
    assert _state(db) == before


@pytest.fixture
def held_warehouse(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    db = tmp_path / "epic.duckdb"
    holder = _python(_HOLD_OPEN, str(db))
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        yield db, holder.pid
    finally:
        holder.kill()
        holder.wait(timeout=30)


def test_a_warehouse_held_by_another_process_is_reported_with_its_pid(held_warehouse: tuple[Path, int]) -> None:
    db, pid = held_warehouse
    for read_only in (False, True):
        with pytest.raises(WarehouseLockedError) as caught:
            open_warehouse(db, read_only=read_only)
        message = str(caught.value)
        assert f"process {pid} (" in message and str(db) in message
        assert message.count(". ") == 0 and "\n" not in message  # one sentence


def test_the_cli_says_the_warehouse_is_busy_in_one_line(held_warehouse: tuple[Path, int]) -> None:
    db, pid = held_warehouse
    env = {**os.environ, "EPIC_DUCKDB_PATH": str(db)}
    for command in (["sql", "select 1"], ["load", str(db.parent), "--source", "x"], ["csv", "--out", str(db.parent)]):
        done = subprocess.run(
            [sys.executable, "-m", "epic_assets", *command],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 1
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        assert f"locked by process {pid}" in done.stderr


@pytest.mark.parametrize(
    ("before", "after", "message"),
    [
        pytest.param(
            [resource("Patient", "p1"), resource("Patient", "p2")],
            [resource("Patient", "p1"), resource("Patient", "p2", gender="male")],
            r"matched 1 of its 2 staged resources: a file changed while it was being loaded",
            id="a resource's text changed",
        ),
        pytest.param(
            [resource("Patient", "p1"), resource("Patient", "p1", gender="male")],
            [resource("Patient", "p1", gender="male"), resource("Patient", "p1")],
            r"Patient\.ndjson did not match its staged lines",
            id="duplicate lines swapped (paired by position)",
        ),
    ],
)
def test_a_file_changed_during_the_load_is_detected_and_nothing_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, before: list[str], after: list[str], message: str
) -> None:
    from epic_assets.warehouse import loader

    export = write_export(tmp_path / "e1", {"Patient.ndjson": before})
    stage = loader._Load.stage

    def stage_then_tamper(self: loader._Load) -> None:
        stage(self)
        (export / "Patient.ndjson").write_text("\n".join(after) + "\n")

    monkeypatch.setattr(loader._Load, "stage", stage_then_tamper)
    with open_warehouse(tmp_path / "epic.duckdb") as wh:
        with pytest.raises(EpicAssetsError, match=message):
            wh.load(export, source="s1")
        assert wh.con.execute("select count(*) from raw_resource_versions").fetchall() == [(0,)]
        assert wh.con.execute("select count(*) from raw_exports").fetchall() == [(0,)]
