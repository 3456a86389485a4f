"""Every line that is not a usable resource is kept, with why and where; the rest of the load goes on."""

from __future__ import annotations

from pathlib import Path

import pytest

from epic_assets.warehouse import Warehouse
from epic_assets_tests.warehouse.exports import resource, write_export

GOOD = resource("Observation", "ok1")


@pytest.mark.parametrize(
    ("line", "reason", "detail"),
    [
        ('{"resourceType":"Observation","id":"x"', "not_json", "not valid JSON"),
        ("not json at all", "not_json", "not valid JSON"),
        ('["resourceType","Observation"]', "not_object", "a JSON array, not an object"),
        ('"just a string"', "not_object", "a JSON varchar, not an object"),
        ('{"id":"x1"}', "no_resource_type", "has no resourceType (or it is not a string)"),
        ('{"resourceType":7,"id":"x1"}', "no_resource_type", "has no resourceType (or it is not a string)"),
        ('{"resourceType":"Observation"}', "no_id", "has no id"),
        ('{"resourceType":"Observation","id":""}', "no_id", "has no id"),
        ('{"resourceType":"Patient","id":"p1"}', "wrong_type", 'resourceType "Patient" in a file of Observation'),
    ],
)
def test_each_kind_of_bad_line_is_quarantined_with_its_reason(
    warehouse: Warehouse, tmp_path: Path, line: str, reason: str, detail: str
) -> None:
    export = write_export(tmp_path / "e1", {"Observation.ndjson": [GOOD, line, resource("Observation", "ok2")]})

    result = warehouse.load(export, source="s1")

    assert result.total("loaded") == 2 and result.total("quarantined") == 1
    rows = warehouse.con.execute(
        "select source, export_id, file, line, resource_type, reason, detail, raw_text, raw_bytes from raw_quarantine"
    ).fetchall()
    assert rows == [("s1", result.export_id, "Observation.ndjson", 2, "Observation", reason, detail, line, None)]


def test_invalid_utf8_is_kept_as_bytes_and_the_rest_of_the_file_loads(warehouse: Warehouse, tmp_path: Path) -> None:
    bad = b'{"resourceType":"Observation","id":"latin1","note":"caf\xe9"}'
    export = write_export(tmp_path / "e1", {"Observation.ndjson": [GOOD, bad, resource("Observation", "ok3")]})

    result = warehouse.load(export, source="s1")

    assert result.total("loaded") == 2 and result.total("quarantined") == 1
    assert (result.lines, result.blank_lines) == (3, 0)
    reason, line, text, raw = warehouse.con.execute(
        "select reason, line, raw_text, raw_bytes from raw_quarantine"
    ).fetchall()[0]
    assert (reason, line, text, raw) == ("invalid_utf8", 2, None, bad)
    stored = warehouse.con.execute("select id, line from raw_resources order by line").fetchall()
    assert stored == [("ok1", 1), ("ok3", 3)]


def test_crlf_line_ends_are_terminators_and_keep_line_numbers(warehouse: Warehouse, tmp_path: Path) -> None:
    directory = tmp_path / "e1"
    directory.mkdir()
    lines = [resource("Patient", "p1"), resource("Patient", "p2"), "oops", resource("Patient", "p3")]
    (directory / "Patient.ndjson").write_bytes(b"\r\n".join(line.encode() for line in lines) + b"\r\n")

    warehouse.load(directory, source="s1")

    stored = warehouse.con.execute("select id, line, resource from raw_resources order by line").fetchall()
    assert stored == [("p1", 1, lines[0]), ("p2", 2, lines[1]), ("p3", 4, lines[3])]
    assert warehouse.con.execute("select line, raw_text from raw_quarantine").fetchall() == [(3, "oops")]


def test_nul_bytes_and_stray_carriage_returns_are_quarantined_not_split(warehouse: Warehouse, tmp_path: Path) -> None:
    nul = b'{"resourceType":"Patient","id":"n\x00ul"}'
    stray_cr = b'{"resourceType":"Patient",\r"id":"cr"}'
    export = write_export(tmp_path / "e1", {"Patient.ndjson": [nul, stray_cr, resource("Patient", "p3")]})

    result = warehouse.load(export, source="s1")

    rows = warehouse.con.execute("select line, reason, raw_text from raw_quarantine order by line").fetchall()
    assert rows == [(1, "not_json", nul.decode()), (2, "unreadable_line", stray_cr.decode())]
    assert warehouse.con.execute("select id, line from raw_resources").fetchall() == [("p3", 3)]
    assert result.total("quarantined") == 2


def test_quarantine_is_per_export_and_a_clean_reload_does_not_repeat_it(warehouse: Warehouse, tmp_path: Path) -> None:
    export = write_export(tmp_path / "e1", {"Observation.ndjson": [GOOD, "junk"]})
    warehouse.load(export, source="s1")
    warehouse.load(export, source="s1")
    assert warehouse.con.execute("select count(*) from raw_quarantine").fetchall() == [(1,)]
