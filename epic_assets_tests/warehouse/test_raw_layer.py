"""The raw layer keeps every resource's original text and knows what changed between exports."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from epic_assets.warehouse import Warehouse
from epic_assets_tests.warehouse.exports import delete_bundle, epic_manifest, resource, write_export


def current(wh: Warehouse, source: str = "s1") -> dict[tuple[str, str], str]:
    rows = wh.con.execute("select resource_type, id, resource from raw_resources where source = ?", [source]).fetchall()
    return {(t, i): text for t, i, text in rows}


def changes(wh: Warehouse, export_id: int) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for change, rid in wh.con.execute("select change, id from raw_changes where export_id = ?", [export_id]).fetchall():
        found.setdefault(change, set()).add(rid)
    return found


def test_original_text_comes_back_byte_for_byte(warehouse: Warehouse, tmp_path: Path) -> None:
    odd_but_valid = [
        '{"resourceType":"Patient","id":"p1","name":[{"text":"Zoë Ñandú 患者 🙂"}]}',
        '  { "id" : "p2" ,  "resourceType" : "Patient", "note": "tab\\there", "n": 1.50e+2 }  ',
        '{"resourceType":"Patient","id":"p3","x":"\\u00e9\\ud83d\\ude00","deep":{"a":[[[{}]]]}}',
    ]
    big = resource("Patient", "p4", photo=[{"data": "A" * 3_000_000}])  # beyond DuckDB's default line size
    export = write_export(tmp_path / "e1", {"Patient.000.ndjson": [*odd_but_valid, big]})

    result = warehouse.load(export, source="s1")

    assert result.total("inserted") == 4
    stored = current(warehouse)
    assert [stored[("Patient", f"p{i}")] for i in (1, 2, 3, 4)] == [*odd_but_valid, big]
    keys = warehouse.con.execute(
        "select id, content_hash = hash(resource) and content_length = strlen(resource) from raw_resources"
    ).fetchall()
    assert all(ok for _, ok in keys)


def test_provenance_records_export_file_and_line_across_files_and_gzip(warehouse: Warehouse, tmp_path: Path) -> None:
    gz_lines = [resource("Observation", f"o{i}", n=i) for i in range(1, 4)]
    plain_lines = ["", resource("Observation", "o4"), "   ", "junk", resource("Observation", "o5")]
    export = write_export(
        tmp_path / "e1",
        {"Observation.000.ndjson.gz": gz_lines, "Observation.001.ndjson": plain_lines, "Patient.ndjson": ["{}"]},
    )
    result = warehouse.load(export, source="s1")

    rows = warehouse.con.execute("select id, export_id, file, line, resource from raw_resources order by id").fetchall()
    assert rows == [
        ("o1", result.export_id, "Observation.000.ndjson.gz", 1, gz_lines[0]),
        ("o2", result.export_id, "Observation.000.ndjson.gz", 2, gz_lines[1]),
        ("o3", result.export_id, "Observation.000.ndjson.gz", 3, gz_lines[2]),
        ("o4", result.export_id, "Observation.001.ndjson", 2, plain_lines[1]),
        ("o5", result.export_id, "Observation.001.ndjson", 5, plain_lines[4]),
    ]
    quarantined = warehouse.con.execute("select file, line, raw_text from raw_quarantine order by file").fetchall()
    assert quarantined == [("Observation.001.ndjson", 4, "junk"), ("Patient.ndjson", 1, "{}")]
    assert (result.lines, result.blank_lines) == (7, 2)


def test_loading_the_same_export_again_changes_nothing(warehouse: Warehouse, tmp_path: Path) -> None:
    export = write_export(tmp_path / "e1", {"Patient.ndjson": [resource("Patient", "p1"), resource("Patient", "p2")]})
    first = warehouse.load(export, source="s1")
    tables = {t: warehouse.con.execute(f"select count(*) from {t}").fetchall() for t in warehouse.tables()}

    again = warehouse.load(export, source="s1")

    assert again.already_loaded and again.export_id == first.export_id
    assert again.total("inserted") == again.total("updated") == again.total("deleted") == 0
    assert {t: warehouse.con.execute(f"select count(*) from {t}").fetchall() for t in warehouse.tables()} == tables


def test_a_second_snapshot_is_compared_with_the_first(warehouse: Warehouse, tmp_path: Path) -> None:
    day1 = write_export(
        tmp_path / "day1",
        {"Patient.ndjson": [resource("Patient", p, v=1) for p in ("keep", "change", "drop")]},
    )
    day2 = write_export(
        tmp_path / "day2",
        {
            "Patient.ndjson": [
                resource("Patient", "keep", v=1),
                resource("Patient", "change", v=2),
                resource("Patient", "new", v=1),
            ]
        },
    )
    warehouse.load(day1, source="s1")
    result = warehouse.load(day2, source="s1")

    assert changes(warehouse, result.export_id) == {"inserted": {"new"}, "updated": {"change"}, "deleted": {"drop"}}
    since_yesterday = warehouse.changes(source="s1")
    assert since_yesterday.select("id", "change").rows() == [
        ("change", "updated"),
        ("drop", "deleted"),
        ("new", "inserted"),
    ]
    (counts,) = result.types
    assert (counts.inserted, counts.updated, counts.unchanged, counts.deleted) == (1, 1, 1, 1)
    assert set(current(warehouse)) == {("Patient", "keep"), ("Patient", "change"), ("Patient", "new")}
    assert json.loads(current(warehouse)[("Patient", "change")])["v"] == 2
    # Superseded versions are kept: every byte Epic sent stays in raw_resource_versions.
    history = warehouse.con.execute(
        "select resource, superseded_by from raw_resource_versions where id = 'change' order by export_id"
    ).fetchall()
    assert [json.loads(text)["v"] for text, _ in history] == [1, 2]
    assert [superseded for _, superseded in history] == [result.export_id, None]


def test_a_snapshot_replaces_only_the_types_it_covers_and_only_its_source(warehouse: Warehouse, tmp_path: Path) -> None:
    both = write_export(
        tmp_path / "both",
        {"Patient.ndjson": [resource("Patient", "p1")], "Condition.ndjson": [resource("Condition", "c1")]},
    )
    warehouse.load(both, source="s1")
    warehouse.load(both, source="s2")
    patients_only = write_export(tmp_path / "p", {"Patient.ndjson": [resource("Patient", "p2")]})

    warehouse.load(patients_only, source="s1")

    assert set(current(warehouse, "s1")) == {("Patient", "p2"), ("Condition", "c1")}
    assert set(current(warehouse, "s2")) == {("Patient", "p1"), ("Condition", "c1")}


def test_a_requested_type_without_a_file_means_none_are_left(warehouse: Warehouse, tmp_path: Path) -> None:
    first = write_export(
        tmp_path / "e1",
        {"pat1": [resource("Patient", "p1")], "obs1": [resource("Observation", "o1")]},
        manifest=epic_manifest(
            [("Patient", "pat1"), ("Observation", "obs1")],
            transaction_time="2024-05-09T09:00:00Z",
            types="patient,observation",
        ),
    )
    second = write_export(
        tmp_path / "e2",
        {"pat2.ndjson": [resource("Patient", "p1")]},
        manifest=epic_manifest(
            [("Patient", "pat2")], transaction_time="2024-05-10T09:00:00Z", types="patient,observation"
        ),
    )
    assert warehouse.load(first).source == "fhir.example.org.grp1"
    result = warehouse.load(second)

    assert set(current(warehouse, "fhir.example.org.grp1")) == {("Patient", "p1")}
    assert changes(warehouse, result.export_id) == {"deleted": {"o1"}}
    files = warehouse.con.execute(
        "select file, resource_type, url like '%/pat2' from raw_export_files where export_id = ?", [result.export_id]
    ).fetchall()
    assert files == [("pat2.ndjson", "Patient", True)]


def test_an_older_export_is_refused_after_a_newer_one(warehouse: Warehouse, tmp_path: Path) -> None:
    import pytest

    from epic_assets.errors import EpicAssetsError

    newer = write_export(
        tmp_path / "new",
        {"a": [resource("Patient", "p1")]},
        manifest=epic_manifest([("Patient", "a")], transaction_time="2024-05-10T00:00:00Z"),
    )
    older = write_export(
        tmp_path / "old",
        {"a": [resource("Patient", "p0")]},
        manifest=epic_manifest([("Patient", "a")], transaction_time="2024-05-09T00:00:00Z"),
    )
    warehouse.load(newer)
    with pytest.raises(EpicAssetsError, match="older than export 1"):
        warehouse.load(older)
    assert set(current(warehouse, "fhir.example.org.grp1")) == {("Patient", "p1")}


def test_incremental_exports_upsert_and_apply_deleted_bundles(warehouse: Warehouse, tmp_path: Path) -> None:
    full = write_export(
        tmp_path / "full",
        {"Patient.ndjson": [resource("Patient", p, v=1) for p in ("a", "b", "c")]},
    )
    since = write_export(
        tmp_path / "since",
        {
            "pat": [resource("Patient", "b", v=2), resource("Patient", "d", v=1)],
            "del": [delete_bundle("Patient/c", "Patient/zzz-never-seen"), delete_bundle("Patient/d")],
        },
        manifest=epic_manifest([("Patient", "pat")], deleted=[("Bundle", "del")]),
    )
    warehouse.load(full, source="s1")
    result = warehouse.load(since, source="s1", incremental=True)

    assert result.mode == "incremental"
    assert changes(warehouse, result.export_id) == {"inserted": {"d"}, "updated": {"b"}, "deleted": {"c"}}
    # 'a' was not in the incremental export and stays; 'd' is both new and listed as deleted: the output wins.
    assert set(current(warehouse)) == {("Patient", "a"), ("Patient", "b"), ("Patient", "d")}
    files = warehouse.con.execute(
        "select file, kind, resource_type from raw_export_files where export_id = ? order by file_id",
        [result.export_id],
    ).fetchall()
    assert files == [("pat", "output", "Patient"), ("del", "deleted", "Bundle")]


def test_duplicate_ids_last_one_wins_and_earlier_copies_are_kept_in_quarantine(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    export = write_export(
        tmp_path / "e1",
        {
            "Patient.000.ndjson": [resource("Patient", "p1", v=1), resource("Patient", "p2")],
            "Patient.001.ndjson": [resource("Patient", "p1", v=2)],
        },
    )
    result = warehouse.load(export, source="s1")

    assert json.loads(current(warehouse)[("Patient", "p1")])["v"] == 2
    assert result.total("duplicates") == 1 and result.total("loaded") == 2
    rows = warehouse.con.execute("select file, line, reason, detail, raw_text from raw_quarantine").fetchall()
    assert rows == [
        (
            "Patient.000.ndjson",
            1,
            "duplicate_id",
            "duplicate id p1: superseded by Patient.001.ndjson line 1 (the last occurrence wins)",
            resource("Patient", "p1", v=1),
        ),
    ]


def test_gzip_without_a_telling_name_is_detected_by_its_bytes(warehouse: Warehouse, tmp_path: Path) -> None:
    directory = tmp_path / "e1"
    directory.mkdir()
    (directory / "opaque").write_bytes(gzip.compress((resource("Patient", "p1") + "\n").encode()))
    (directory / "manifest.json").write_text(json.dumps(epic_manifest([("Patient", "opaque")])))

    warehouse.load(directory)

    assert set(current(warehouse, "fhir.example.org.grp1")) == {("Patient", "p1")}


def test_the_servers_error_files_are_kept_issue_by_issue(warehouse: Warehouse, tmp_path: Path) -> None:
    def outcome(severity: str, code: str, epic_code: str, text: str) -> str:
        issue = {"severity": severity, "code": code, "details": {"coding": [{"code": epic_code}], "text": text}}
        return json.dumps({"resourceType": "OperationOutcome", "issue": [issue]})

    dropped = outcome("warning", "suppressed", "59204", "Sub-type not authorized; data dropped")
    refused = outcome("error", "forbidden", "59130", "Type not authorized")
    export = write_export(
        tmp_path / "e1",
        {"pat": [resource("Patient", "p1")], "err1": [dropped, refused]},
        manifest=epic_manifest([("Patient", "pat")], errors=["err1"]),
    )
    result = warehouse.load(export)

    assert result.messages == {"error": 1, "warning": 1}
    rows = warehouse.con.execute(
        "select file, line, severity, code, message, raw_text from raw_export_messages order by line"
    ).fetchall()
    assert rows == [
        ("err1", 1, "warning", "suppressed 59204", "Sub-type not authorized; data dropped", dropped),
        ("err1", 2, "error", "forbidden 59130", "Type not authorized", refused),
    ]
    from epic_assets.cli.load import summary

    assert "the server reported issues with this export (1 error, 1 warning)" in summary(result)
