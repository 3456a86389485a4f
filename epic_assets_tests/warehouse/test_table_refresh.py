"""Derived tables follow the change log: only resources that changed are flattened again.

The promise is that a refreshed table holds exactly the rows a full rebuild would produce; every
test that refreshes compares against a full rebuild of the same state.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from epic_assets.emulator.synthetic import SUPPORTED_TYPES, write_export
from epic_assets.errors import EpicAssetsError
from epic_assets.warehouse import Warehouse
from epic_assets.warehouse import tables as tables_module
from epic_assets.warehouse.table_state import REFRESH_LIMIT
from epic_assets.warehouse.tables import BuiltTable, build_tables
from epic_assets_tests.warehouse.exports import resource
from epic_assets_tests.warehouse.exports import write_export as write_files

PATIENTS = 12


def first_snapshot(directory: Path, day: int = 0) -> Path:
    """The emulator's Group on ``day`` (later days have resources amended, gone and new)."""
    write_export(sorted(SUPPORTED_TYPES), PATIENTS, seed=7, out_dir=directory, max_per_file=40, day=day)
    return directory


def next_snapshot(previous: Path, directory: Path, *, share: float = 0.05, seed: int = 1) -> Path:
    """``previous`` with about ``share`` of each type's resources updated, deleted, or added as new."""
    chooser = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    directory.mkdir(parents=True)
    for path in sorted(previous.glob("*.ndjson")):
        lines = []
        for line in path.read_text().splitlines():
            item = json.loads(line)
            roll = chooser.random()
            if roll < share:  # deleted
                continue
            if roll < 2 * share:  # updated: a changed status and one list element fewer
                item["status"] = "entered-in-error"
                for field in ("component", "category", "name", "identifier", "reaction", "content", "result"):
                    if isinstance(item.get(field), list) and len(item[field]) > 1:
                        item[field] = item[field][:-1]
                        break
                line = json.dumps(item, separators=(",", ":"))
            lines.append(line)  # unchanged lines keep their exact bytes
            if roll > 1 - share:  # a new resource next to it
                lines.append(json.dumps({**item, "id": item["id"] + "n"}, separators=(",", ":")))
        (directory / path.name).write_text("\n".join(lines) + "\n")
    return directory


@pytest.fixture
def day1(warehouse: Warehouse, tmp_path: Path) -> Path:
    """The first snapshot, loaded as source 's' and with every table built."""
    directory = first_snapshot(tmp_path / "day1")
    warehouse.load(directory, source="s")
    build_tables(warehouse.con)
    return directory


def snapshot_of_tables(wh: Warehouse, built: list[BuiltTable]) -> dict[str, list[tuple[object, ...]]]:
    return {b.name: wh.con.execute(f'select * from "{b.name}" order by all').fetchall() for b in built}


def assert_same_as_full_rebuild(wh: Warehouse, built: list[BuiltTable]) -> None:
    refreshed = snapshot_of_tables(wh, built)
    rebuilt = build_tables(wh.con, full=True)
    assert {b.how for b in rebuilt} == {"rebuilt"}
    assert snapshot_of_tables(wh, rebuilt) == refreshed


@pytest.mark.parametrize(
    "later",
    [
        pytest.param(lambda day1, directory: first_snapshot(directory, day=4), id="the emulator's day 4"),
        pytest.param(next_snapshot, id="statuses changed and child lists shortened"),
    ],
)
def test_after_a_new_snapshot_only_changed_resources_are_flattened_again_and_rows_match_a_full_rebuild(
    warehouse: Warehouse, tmp_path: Path, later: Callable[[Path, Path], Path]
) -> None:
    day1 = first_snapshot(tmp_path / "day1")
    warehouse.load(day1, source="s")
    assert {b.how for b in build_tables(warehouse.con)} == {"rebuilt"}

    warehouse.load(later(day1, tmp_path / "day2"), source="s")
    built = build_tables(warehouse.con)

    by_name = {b.name: b for b in built}
    changed = warehouse.con.execute(
        "select c.resource_type, count(*), any_value(n.current) from raw_changes c"
        " join (select resource_type, count(*) as current from raw_resources group by all) n using (resource_type)"
        " where c.export_id = 2 group by all"
    ).fetchall()
    for resource_type, count, current in changed:
        expected = "refreshed" if count <= REFRESH_LIMIT * current else "rebuilt"
        for table in (b for b in built if b.resource_type == resource_type):
            assert (table.how, table.changed_resources) == (expected, count), table.name
    untouched = {b.name for b in built} - {b.name for b in built if b.resource_type in {c[0] for c in changed}}
    assert {by_name[name].how for name in untouched} <= {"unchanged"}
    for name in ("observation", "observation_component", "vital_signs", "encounter", "condition"):
        assert by_name[name].how == "refreshed" and by_name[name].rows > 0, name
    assert_same_as_full_rebuild(warehouse, built)


def test_with_nothing_changed_the_tables_are_left_as_they_are(warehouse: Warehouse, tmp_path: Path) -> None:
    warehouse.load(first_snapshot(tmp_path / "day1"), source="s")
    first = build_tables(warehouse.con)
    again = build_tables(warehouse.con)
    assert {b.how for b in again} == {"unchanged"}
    assert [(b.name, b.rows) for b in again] == [(b.name, b.rows) for b in first]


def test_many_changes_rebuild_instead(warehouse: Warehouse, tmp_path: Path, day1: Path) -> None:
    warehouse.load(next_snapshot(day1, tmp_path / "day2", share=0.2), source="s")
    built = build_tables(warehouse.con)
    assert {b.how for b in built if b.resource_type == "Observation"} == {"rebuilt"}
    assert_same_as_full_rebuild(warehouse, built)


def test_other_constants_a_changed_view_or_a_new_source_rebuild_the_tables_they_affect(
    warehouse: Warehouse, tmp_path: Path, day1: Path
) -> None:

    hows = {b.name: b.how for b in build_tables(warehouse.con, constants={"mrn_system": "urn:oid:1.2.3"})}
    assert hows["patient_identifier"] == "rebuilt" and hows["observation"] == "unchanged"

    views_dir = tmp_path / "views"
    views_dir.mkdir()
    library = json.loads(_library_file("condition").read_text())
    library["select"][0]["column"].append({"name": "extra_status", "path": "clinicalStatus.text"})
    (views_dir / "condition.json").write_text(json.dumps(library))
    hows = {b.name: b.how for b in build_tables(warehouse.con, views_dir=views_dir)}
    assert hows["condition"] == "rebuilt" and hows["encounter"] == "unchanged"

    warehouse.load(write_files(tmp_path / "other", {"Patient.ndjson": [resource("Patient", "x1")]}), source="t")
    hows = {b.name: b.how for b in build_tables(warehouse.con, views_dir=views_dir)}
    assert hows["patient"] == "rebuilt" and hows["condition"] == "rebuilt"


def _library_file(name: str) -> Path:
    from epic_assets.views.library import LIBRARY_DIR

    return LIBRARY_DIR / f"{name}.json"


def test_a_dropped_table_or_a_view_without_a_resource_key_column_is_rebuilt(
    warehouse: Warehouse, tmp_path: Path, day1: Path
) -> None:
    warehouse.con.execute("drop table observation")
    assert {b.name: b.how for b in build_tables(warehouse.con)}["observation"] == "rebuilt"

    keyless = {
        "resourceType": "ViewDefinition",
        "name": "genders",
        "resource": "Patient",
        "status": "active",
        "select": [{"column": [{"name": "gender", "path": "gender"}]}],
    }
    build_tables(warehouse.con, views={"genders": keyless})
    warehouse.load(next_snapshot(day1, tmp_path / "day2"), source="s")
    (built,) = build_tables(warehouse.con, views={"genders": keyless})
    assert built.how == "rebuilt"


def test_a_refresh_that_fails_leaves_the_table_and_its_record_as_they_were(
    warehouse: Warehouse, tmp_path: Path, day1: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = warehouse.con.execute("select * from observation order by all").fetchall()
    record = warehouse.con.execute("select * from raw_table_builds where table_name = 'observation'").fetchall()
    warehouse.load(next_snapshot(day1, tmp_path / "day2"), source="s")

    refresh = tables_module._Target.refresh

    def refresh_then_fail(self: tables_module._Target, key_column: str) -> None:
        refresh(self, key_column)
        raise duckdb.IOException("disk full")

    monkeypatch.setattr(tables_module._Target, "refresh", refresh_then_fail)
    with pytest.raises(EpicAssetsError, match="observation: disk full"):
        build_tables(warehouse.con)
    assert warehouse.con.execute("select * from observation order by all").fetchall() == before
    assert warehouse.con.execute("select * from raw_table_builds where table_name = 'observation'").fetchall() == record

    monkeypatch.undo()
    assert {b.name: b.how for b in build_tables(warehouse.con)}["observation"] == "refreshed"


def test_load_reports_its_phases_and_which_tables_it_refreshed_and_rebuilds_all_when_asked(tmp_path: Path) -> None:
    from epic_assets_tests.warehouse.test_cli import epic_assets

    day1 = first_snapshot(tmp_path / "day1")
    day2 = next_snapshot(day1, tmp_path / "day2")
    db = str(tmp_path / "epic.duckdb")
    assert epic_assets("load", str(day1), "--source", "s", "--db", db).returncode == 0

    done = epic_assets("load", str(day2), "--source", "s", "--db", db)
    assert done.returncode == 0, done.stderr
    phases = [line.split(" in ")[0] for line in done.stderr.splitlines()]
    assert phases[0].startswith("load: checked ") and phases[1].startswith("load: read ")
    assert phases[2].startswith("load: compared with the current state and stored ")
    assert "table observation: " in done.stdout and "rows, refreshed " in done.stdout
    again = epic_assets("load", str(day1), "--source", "s", "--db", db, "--rebuild-tables")
    assert again.returncode == 0, again.stderr
    table_lines = [line for line in again.stdout.splitlines() if line.startswith("table ")]
    assert len(table_lines) == 21 and all("rows, rebuilt (" in line for line in table_lines)
