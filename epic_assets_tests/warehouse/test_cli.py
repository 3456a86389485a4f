"""``epic-assets load / sql / csv`` end to end on the Synthea exports, as a user runs them."""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from epic_assets.warehouse import open_warehouse
from epic_assets_tests.conftest import REPO_ROOT


def epic_assets(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "epic_assets", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def load_with_user_views(export: Path, db: Path, views: Path) -> subprocess.CompletedProcess[str]:
    return epic_assets("load", str(export), "--source", "p9", "--db", str(db), env={"EPIC_VIEWS_DIR": str(views)})


def ndjson_lines(directory: Path) -> dict[tuple[str, str], str]:
    """(type, id) -> original line, read straight from the files (last occurrence wins)."""
    found = {}
    for path in sorted(directory.iterdir()):
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        for line in data.decode().splitlines():
            item = json.loads(line)
            found[(item["resourceType"], item["id"])] = line
    return found


@pytest.mark.parametrize("dataset", ["bulk-data-server-r4-100pt", "pathling-r4-9pt"])
def test_load_keeps_every_synthea_resource_byte_for_byte(synthea_dir: Path, tmp_path: Path, dataset: str) -> None:
    db = tmp_path / "epic.duckdb"
    done = epic_assets("load", str(synthea_dir / dataset), "--source", dataset, "--db", str(db), "--no-tables")
    assert done.returncode == 0, done.stderr
    assert f"source {dataset}: export 1 (snapshot)" in done.stdout

    expected = ndjson_lines(synthea_dir / dataset)
    with open_warehouse(db, read_only=True) as wh:
        stored = {
            (t, i): r for t, i, r in wh.con.execute("select resource_type, id, resource from raw_resources").fetchall()
        }
    assert stored == expected

    again = epic_assets("load", str(synthea_dir / dataset), "--source", dataset, "--db", str(db), "--no-tables")
    assert again.returncode == 0 and "already loaded as export 1; nothing changed" in again.stdout


def test_sql_prints_an_aligned_table_csv_or_json_and_refuses_writes(synthea_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "epic.duckdb"
    assert (
        epic_assets(
            "load", str(synthea_dir / "pathling-r4-9pt"), "--source", "p9", "--db", str(db), "--no-tables"
        ).returncode
        == 0
    )
    query = "select resource_type, count(*) as n from raw_resources where resource_type like 'P%' group by 1 order by 1"

    table = epic_assets("sql", query, "--db", str(db))
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines() == [
        "resource_type    n",
        "-------------  ---",
        "Patient          9",
        "Practitioner    23",
        "Procedure      139",
        "(3 rows)",
    ]
    as_csv = epic_assets("sql", query, "--db", str(db), "--format", "csv")
    assert list(csv.reader(as_csv.stdout.splitlines())) == [
        ["resource_type", "n"],
        ["Patient", "9"],
        ["Practitioner", "23"],
        ["Procedure", "139"],
    ]
    as_json = epic_assets("sql", query, "--db", str(db), "--format", "json")
    assert json.loads(as_json.stdout)[0] == {"resource_type": "Patient", "n": 9}

    write = epic_assets("sql", "drop table raw_exports", "--db", str(db))
    assert write.returncode == 1 and "read-only" in write.stderr and "Traceback" not in write.stderr
    for escape in (
        f"copy (select 1) to '{tmp_path / 'x.csv'}'",
        f"attach '{tmp_path / 'x.db'}' as x",
        "set enable_external_access = true",
    ):
        refused = epic_assets("sql", escape, "--db", str(db))
        assert refused.returncode == 1 and refused.stderr.count("\n") == 1, escape
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "x.db").exists()


def test_csv_dumps_named_tables_inside_the_output_directory(synthea_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "epic.duckdb"
    out = tmp_path / "out"
    assert (
        epic_assets(
            "load", str(synthea_dir / "pathling-r4-9pt"), "--source", "p9", "--db", str(db), "--no-tables"
        ).returncode
        == 0
    )

    done = epic_assets(
        "csv", "--out", str(out), "--table", "raw_export_types", "--table", "raw_quarantine", "--db", str(db)
    )
    assert done.returncode == 0, done.stderr
    with (out / "raw_export_types.csv").open() as handle:
        by_type = {row["resource_type"]: row for row in csv.DictReader(handle)}
    assert by_type["Observation"]["inserted"] == "1502"
    assert by_type["Practitioner"]["duplicates"] == "6"

    parquet = epic_assets("csv", "--out", str(out), "--table", "raw_changes", "--format", "parquet", "--db", str(db))
    assert parquet.returncode == 0, parquet.stderr
    with open_warehouse(db, read_only=True) as wh:
        count = wh.con.execute(f"select count(*) from read_parquet('{out / 'raw_changes.parquet'}')").fetchall()
    assert count == [(2783,)]
    assert sorted(p.name for p in out.iterdir()) == [
        "raw_changes.parquet",
        "raw_export_types.csv",
        "raw_quarantine.csv",
    ]


def test_the_default_warehouse_path_comes_from_the_settings(synthea_dir: Path, tmp_path: Path) -> None:
    done = epic_assets(
        "load",
        str(synthea_dir / "pathling-r4-9pt"),
        "--source",
        "p9",
        "--no-tables",
        env={"EPIC_DATA_DIR": str(tmp_path / "data")},
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "data" / "epic.duckdb").is_file()


def test_a_directory_without_a_manifest_needs_a_source(synthea_dir: Path, tmp_path: Path) -> None:
    done = epic_assets("load", str(synthea_dir / "pathling-r4-9pt"), "--db", str(tmp_path / "x.duckdb"))
    assert done.returncode == 1 and "give the source with --source NAME" in done.stderr


def test_load_builds_the_tables_and_csv_dumps_them_by_default(synthea_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "epic.duckdb"
    done = epic_assets("load", str(synthea_dir / "pathling-r4-9pt"), "--source", "p9", "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert "table patient: 9 rows" in done.stdout

    out = tmp_path / "out"
    dumped = epic_assets("csv", "--out", str(out), "--db", str(db))
    assert dumped.returncode == 0, dumped.stderr
    names = {p.name for p in out.iterdir()}
    assert "patient.csv" in names and "observation.csv" in names
    assert not any(name.startswith("raw_") for name in names)
    with (out / "patient.csv").open() as handle:
        patients = list(csv.DictReader(handle))
    assert len(patients) == 9 and {p["_source"] for p in patients} == {"p9"}


def test_user_views_from_epic_views_dir_become_tables_too(synthea_dir: Path, tmp_path: Path) -> None:
    views = tmp_path / "views"
    views.mkdir()
    (views / "patient_gender.json").write_text(
        json.dumps(
            {
                "resourceType": "ViewDefinition",
                "name": "patient_gender",
                "resource": "Patient",
                "status": "active",
                "select": [
                    {"column": [{"name": "id", "path": "getResourceKey()"}, {"name": "gender", "path": "gender"}]}
                ],
            }
        )
    )
    db = tmp_path / "epic.duckdb"
    done = load_with_user_views(synthea_dir / "pathling-r4-9pt", db, views)
    assert done.returncode == 0, done.stderr
    assert "table patient_gender: 9 rows" in done.stdout
    counted = epic_assets(
        "sql", "select count(*) as n from patient_gender where gender is not null", "--db", str(db), "--format", "csv"
    )
    assert counted.stdout.splitlines() == ["n", "9"]


def test_a_broken_user_view_fails_the_command_but_keeps_the_load_and_the_other_tables(
    synthea_dir: Path, tmp_path: Path
) -> None:
    views = tmp_path / "views"
    views.mkdir()
    broken = {
        "resourceType": "ViewDefinition",
        "name": "broken_view",
        "resource": "Patient",
        "status": "active",
        "select": [{"column": [{"name": "id", "path": "noSuchFunction()"}]}],
    }
    (views / "broken_view.json").write_text(json.dumps(broken))
    db = tmp_path / "epic.duckdb"
    done = load_with_user_views(synthea_dir / "pathling-r4-9pt", db, views)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "the export is loaded, but the derived tables were not all rebuilt" in done.stderr
    assert "broken_view" in done.stderr
    counted = epic_assets(
        "sql",
        "select (select count(*) from raw_exports), (select count(*) from patient)",
        "--db",
        str(db),
        "--format",
        "csv",
    )
    assert counted.stdout.splitlines()[1] == "1,9"


def test_load_incremental_from_the_command_line(tmp_path: Path) -> None:
    from epic_assets_tests.warehouse.exports import delete_bundle, epic_manifest, resource, write_export

    db = tmp_path / "epic.duckdb"
    full = write_export(
        tmp_path / "full",
        {"pat": [resource("Patient", "a"), resource("Patient", "b")]},
        manifest=epic_manifest([("Patient", "pat")], transaction_time="2024-05-09T00:00:00Z"),
    )
    since = write_export(
        tmp_path / "since",
        {"pat": [resource("Patient", "c")], "del": [delete_bundle("Patient/a")]},
        manifest=epic_manifest(
            [("Patient", "pat")], deleted=[("Bundle", "del")], transaction_time="2024-05-10T00:00:00Z"
        ),
    )
    assert epic_assets("load", str(full), "--db", str(db), "--no-tables").returncode == 0
    done = epic_assets("load", str(since), "--incremental", "--db", str(db), "--no-tables")
    assert done.returncode == 0, done.stderr
    assert "export 2 (incremental)" in done.stdout
    ids = epic_assets("sql", "select id from raw_resources order by id", "--db", str(db), "--format", "csv")
    assert ids.stdout.splitlines() == ["id", "b", "c"]


def test_epic_mrn_system_picks_the_sites_mrn_for_the_patient_table(tmp_path: Path) -> None:
    from epic_assets.emulator import synthetic
    from epic_assets.emulator.synthetic.site import Site

    site = Site.customer(861, 1, "MRN")
    export = tmp_path / "export"
    synthetic.write_export(["Patient"], patients=3, seed=5, out_dir=export, site=site)
    patients = [json.loads(line) for path in sorted(export.iterdir()) for line in path.read_text().splitlines()]
    mrn_system = next(i["system"] for i in patients[0]["identifier"] if i["type"]["text"] == "MRN")
    expected = {p["id"]: next(i["value"] for i in p["identifier"] if i["system"] == mrn_system) for p in patients}

    def mrns(env_mrn: str | None) -> dict[str, str | None]:
        database = tmp_path / f"{env_mrn is not None}.duckdb"
        env = {"EPIC_MRN_SYSTEM": env_mrn} if env_mrn else {}
        result = epic_assets("load", str(export), "--source", "site861", "--db", str(database), env=env)
        assert result.returncode == 0, result.stderr
        with open_warehouse(database, read_only=True) as warehouse:
            rows = warehouse.query("select id, mrn from patient").rows()
            flagged = warehouse.query("select count(*) from patient_identifier where is_mrn").rows()
        assert flagged == [(3 if env_mrn else 0,)]
        return dict(rows)

    assert mrns(mrn_system) == expected
    # The sandbox default OID is not this site's: without the setting no identifier is taken as the MRN.
    assert set(mrns(None).values()) == {None}


def test_an_invalid_epic_mrn_system_is_refused_by_name(tmp_path: Path) -> None:
    result = epic_assets("load", str(tmp_path), "--source", "s", env={"EPIC_MRN_SYSTEM": "MRN OID please"})
    assert result.returncode == 1
    assert "EPIC_MRN_SYSTEM='MRN OID please' is not a code system URI" in result.stderr
