"""Change detection keys (64-bit hash + length): exact enough, and safe across DuckDB versions."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from epic_assets.errors import EpicAssetsError
from epic_assets.warehouse import Warehouse, open_warehouse
from epic_assets_tests.warehouse.exports import resource, write_export


def changes(wh: Warehouse, export_id: int) -> set[tuple[str, str]]:
    rows = wh.con.execute("select change, id from raw_changes where export_id = ?", [export_id]).fetchall()
    return set(rows)


def test_an_edit_that_keeps_the_length_is_an_update(warehouse: Warehouse, tmp_path: Path) -> None:
    before = resource("Observation", "o1", status="final")
    after = resource("Observation", "o1", status="error")
    assert len(before) == len(after) and before != after
    warehouse.load(write_export(tmp_path / "e1", {"Observation.ndjson": [before]}), source="s1")

    result = warehouse.load(write_export(tmp_path / "e2", {"Observation.ndjson": [after]}), source="s1")

    assert result.total("updated") == 1
    assert warehouse.con.execute("select resource from raw_resources").fetchall() == [(after,)]


def test_keys_from_a_different_hash_function_are_recomputed_not_reported_as_updates(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    kept, edited = resource("Patient", "p1", n=1), resource("Patient", "p2", n=2)
    warehouse.load(write_export(tmp_path / "e1", {"Patient.ndjson": [kept, edited]}), source="s1")
    # As if the file had been written by a DuckDB whose hash() differs from this one.
    con = warehouse.con
    con.execute("update raw_resource_versions set content_hash = content_hash + 1")
    con.execute("update raw_changes set content_hash = content_hash + 1")
    con.execute("update raw_meta set value = 'another hash function' where key = 'content_hash_probe'")

    second = warehouse.load(
        write_export(tmp_path / "e2", {"Patient.ndjson": [kept, resource("Patient", "p2", n=3)]}), source="s1"
    )

    assert changes(warehouse, second.export_id) == {("updated", "p2")}
    assert second.total("unchanged") == 1
    stale = con.execute(
        "select count(*) from raw_resource_versions where content_hash <> hash(resource)"
        " or content_length <> strlen(resource)"
    ).fetchall()
    assert stale == [(0,)]
    first_changes = con.execute(
        "select c.id from raw_changes c join raw_resource_versions v using (source, resource_type, id, export_id)"
        " where c.export_id = 1 and c.content_hash = v.content_hash"
    ).fetchall()
    assert sorted(first_changes) == [("p1",), ("p2",)]
    previous = con.execute(
        "select c.previous_hash = v.content_hash from raw_changes c join raw_resource_versions v"
        " on v.id = c.id and v.superseded_by = c.export_id where c.export_id = ?",
        [second.export_id],
    ).fetchall()
    assert previous == [(True,)]


def test_a_file_keyed_by_md5_is_refused_with_a_way_out(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create table raw_resource_versions (source varchar, content_md5 varchar, resource varchar)")

    with pytest.raises(EpicAssetsError, match=r"older epic-assets.*new file"):
        open_warehouse(db)


def test_rows_written_from_many_files_keep_their_file_and_line(warehouse: Warehouse, tmp_path: Path) -> None:
    # The re-read is split into one chunk of files per thread; changed rows are scattered over the chunks.
    warehouse.con.execute("set threads = 4")
    files = {
        f"Observation.{f:03d}.ndjson": [resource("Observation", f"o{f}-{i}", v=0) for i in range(3)] for f in range(7)
    }
    warehouse.load(write_export(tmp_path / "e1", files), source="s1")
    files["Observation.001.ndjson"][2] = resource("Observation", "o1-2", v=1)
    files["Observation.005.ndjson"][0] = resource("Observation", "o5-0", v=1)
    files["Observation.006.ndjson"].append(resource("Observation", "new", v=1))

    second = warehouse.load(write_export(tmp_path / "e2", files), source="s1")

    written = warehouse.con.execute(
        "select id, file, line, resource from raw_resource_versions where export_id = ? order by id",
        [second.export_id],
    ).fetchall()
    assert written == [
        ("new", "Observation.006.ndjson", 4, files["Observation.006.ndjson"][3]),
        ("o1-2", "Observation.001.ndjson", 3, files["Observation.001.ndjson"][2]),
        ("o5-0", "Observation.005.ndjson", 1, files["Observation.005.ndjson"][0]),
    ]
