"""Names from manifests, file names, sources and commands are checked before they reach SQL or a path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from epic_assets.cli.csv import dump_tables
from epic_assets.errors import EpicAssetsError
from epic_assets.identifiers import InvalidIdentifierError
from epic_assets.warehouse import Warehouse
from epic_assets_tests.warehouse.exports import epic_manifest, resource, write_export


def _manifest_export(tmp_path: Path, entry: dict[str, str]) -> Path:
    directory = write_export(tmp_path / "e1", {"f1": [resource("Patient", "p1")]})
    manifest = epic_manifest([("Patient", "f1")])
    manifest["output"] = [entry]
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


def _untouched(warehouse: Warehouse) -> bool:
    tables = warehouse.tables()
    return "raw_exports" in tables and warehouse.con.execute("select count(*) from raw_exports").fetchall() == [(0,)]


@pytest.mark.parametrize(
    "bad_type",
    ["Patient'; drop table raw_exports; --", "patient", "Pat ient", "../Patient", "", None, 42],
)
def test_a_malicious_manifest_type_is_refused_before_any_sql(
    warehouse: Warehouse, tmp_path: Path, bad_type: object
) -> None:
    export = _manifest_export(tmp_path, {"type": bad_type, "url": "https://x.example/BulkRequest/1/f1"})  # type: ignore[dict-item]
    with pytest.raises(InvalidIdentifierError, match="invalid resource type"):
        warehouse.load(export)
    assert _untouched(warehouse)


@pytest.mark.parametrize(
    "url",
    [
        "https://x.example/BulkRequest/1/..",
        "https://x.example/BulkRequest/1/%2e%2e%2fsecret",
        "https://x.example/BulkRequest/1/f1';select 1;--",
        "https://x.example/",
    ],
)
def test_a_manifest_url_must_end_in_a_plain_file_name(warehouse: Warehouse, tmp_path: Path, url: str) -> None:
    export = _manifest_export(tmp_path, {"type": "Patient", "url": url})
    with pytest.raises(EpicAssetsError, match="safe file name"):
        warehouse.load(export)
    assert _untouched(warehouse)


def test_a_file_that_links_outside_the_export_directory_is_refused(warehouse: Warehouse, tmp_path: Path) -> None:
    outside = write_export(tmp_path / "elsewhere", {"secret.ndjson": [resource("Patient", "p1")]})
    directory = tmp_path / "e1"
    directory.mkdir()
    (directory / "Patient.ndjson").symlink_to(outside / "secret.ndjson")
    with pytest.raises(EpicAssetsError, match="outside the export directory"):
        warehouse.load(directory, source="s1")


def test_file_names_must_start_with_a_resource_type(warehouse: Warehouse, tmp_path: Path) -> None:
    export = write_export(tmp_path / "e1", {"x'); drop table t; --.ndjson": [resource("Patient", "p1")]})
    with pytest.raises(InvalidIdentifierError, match="file name"):
        warehouse.load(export, source="s1")


@pytest.mark.parametrize("source", ["../up", "a/b", "x'; drop table raw_exports; --", "", "."])
def test_source_names_are_validated(warehouse: Warehouse, tmp_path: Path, source: str) -> None:
    export = write_export(tmp_path / "e1", {"Patient.ndjson": [resource("Patient", "p1")]})
    with pytest.raises(InvalidIdentifierError, match="invalid source name"):
        warehouse.load(export, source=source)
    assert _untouched(warehouse)


@pytest.mark.parametrize("table", ["../../etc/passwd", "raw_changes; drop table raw_exports", "Raw_Changes", "nope"])
def test_dumped_table_names_are_validated_and_must_exist(warehouse: Warehouse, tmp_path: Path, table: str) -> None:
    with pytest.raises((InvalidIdentifierError, EpicAssetsError)):
        dump_tables(warehouse, tmp_path / "out", [table], "csv")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert not (tmp_path.parent / "etc").exists()
