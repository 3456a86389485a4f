"""Derived tables are ViewDefinitions run over the current raw state of every source."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from epic_assets.errors import EpicAssetsError
from epic_assets.warehouse import Warehouse
from epic_assets.warehouse.tables import build_tables
from epic_assets_tests.warehouse.exports import resource, write_export

TINY_VIEW = {
    "resourceType": "ViewDefinition",
    "name": "tiny_patient",
    "resource": "Patient",
    "status": "active",
    "select": [{"column": [{"name": "id", "path": "getResourceKey()"}, {"name": "gender", "path": "gender"}]}],
}


def rows(wh: Warehouse, table: str) -> list[tuple[object, ...]]:
    return wh.con.execute(f"select * from {table} order by all").fetchall()


def load_patient(wh: Warehouse, directory: Path, source: str, patient_id: str, gender: str) -> None:
    wh.load(
        write_export(directory, {"Patient.ndjson": [resource("Patient", patient_id, gender=gender)]}), source=source
    )


def test_a_table_holds_every_source_tagged_and_follows_the_current_state(warehouse: Warehouse, tmp_path: Path) -> None:
    load_patient(warehouse, tmp_path / "a1", "a", "p1", "female")
    load_patient(warehouse, tmp_path / "b1", "b", "p1", "male")
    (built,) = build_tables(warehouse.con, views={"tiny_patient": TINY_VIEW})
    assert (built.name, built.resource_type, built.rows) == ("tiny_patient", "Patient", 2)
    assert [c[0] for c in warehouse.con.execute("describe tiny_patient").fetchall()] == ["_source", "id", "gender"]
    assert rows(warehouse, "tiny_patient") == [("a", "p1", "female"), ("b", "p1", "male")]

    load_patient(warehouse, tmp_path / "a2", "a", "p2", "other")
    build_tables(warehouse.con, views={"tiny_patient": TINY_VIEW})
    assert rows(warehouse, "tiny_patient") == [("a", "p2", "other"), ("b", "p1", "male")]


def test_a_view_that_fails_leaves_its_previous_table_in_place(warehouse: Warehouse, tmp_path: Path) -> None:
    load_patient(warehouse, tmp_path / "a1", "a", "p1", "female")
    build_tables(warehouse.con, views={"tiny_patient": TINY_VIEW})
    broken = {**TINY_VIEW, "select": [{"column": [{"name": "id", "path": "noSuchFunctionAtAll()"}]}]}

    with pytest.raises(EpicAssetsError, match="1 of 1 derived tables could not be built"):
        build_tables(warehouse.con, views={"tiny_patient": broken})
    assert rows(warehouse, "tiny_patient") == [("a", "p1", "female")]


def test_view_names_may_not_take_over_raw_tables(warehouse: Warehouse) -> None:
    for name in ("raw_exports", "raw_anything"):
        with pytest.raises(EpicAssetsError, match="reserved"):
            build_tables(warehouse.con, views={name: {**TINY_VIEW, "name": name}})
    assert warehouse.con.execute("select count(*) from raw_exports").fetchall() == [(0,)]


def test_tables_exist_with_their_columns_before_any_data(warehouse: Warehouse) -> None:
    (built,) = build_tables(warehouse.con, views={"tiny_patient": TINY_VIEW})
    assert built.rows == 0
    assert warehouse.table("tiny_patient").columns == ["_source", "id", "gender"]


def test_the_shipped_library_builds_on_synthea_and_reads_as_polars(warehouse: Warehouse, synthea_dir: Path) -> None:
    warehouse.load(synthea_dir / "bulk-data-server-r4-100pt", source="bds")
    built = {b.name: b.rows for b in warehouse.build_tables()}

    assert built["patient"] == 100 and built["observation"] == 16315
    patients = warehouse.table("patient")
    assert isinstance(patients, pl.DataFrame) and patients.height == 100
    assert patients["_source"].unique().to_list() == ["bds"]
