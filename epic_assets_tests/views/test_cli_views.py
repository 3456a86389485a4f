"""``epic-assets views``: run, sql, test and list, through the real command in a subprocess."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from epic_assets.views import ViewDefinitionError
from epic_assets.views.catalog import available_views, catalog
from epic_assets_tests.conftest import REPO_ROOT


def _cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("EPIC_")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "epic_assets.cli.main", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd or REPO_ROOT,
        timeout=300,
        check=False,
    )


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_run_prints_csv_rows_from_a_folder_of_bulk_files(synthea_dir: Path, tmp_path: Path) -> None:
    view = _write(
        tmp_path / "genders.json",
        {
            "resource": "Patient",
            "select": [{"column": [{"name": "id", "path": "id"}, {"name": "gender", "path": "gender"}]}],
        },
    )
    result = _cli("views", "run", str(view), "--input", str(synthea_dir / "bulk-data-server-r4-100pt"))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 100  # the 100-patient export; other types' files in the folder are not read
    assert {r["gender"] for r in rows} <= {"male", "female"}


def test_run_by_library_name_as_json_lines(synthea_dir: Path) -> None:
    result = _cli(
        "views",
        "run",
        "patient",
        "--input",
        str(synthea_dir / "pathling-r4-9pt" / "Patient.ndjson"),
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 9
    assert all(row["id"] for row in rows)


def test_sql_prints_one_query_reading_the_input_once(tmp_path: Path) -> None:
    result = _cli("views", "sql", "observation")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("read_json(") == 1
    assert "columns={" in result.stdout


def test_an_invalid_view_is_one_line_naming_the_element(tmp_path: Path) -> None:
    view = _write(
        tmp_path / "bad.json", {"resource": "Patient", "select": [{"column": [{"name": "x", "path": "name.foo()"}]}]}
    )
    result = _cli("views", "sql", str(view))
    assert result.returncode == 1
    assert result.stderr.strip() == "epic-assets: error: select[0].column[0].path: unknown function 'foo'"


def test_test_command_runs_the_suite_and_writes_the_upstream_report(shared: Path, tmp_path: Path) -> None:
    report_path = tmp_path / "test_report.json"
    suite = shared / "sql-on-fhir-tests" / "latest"
    result = _cli("views", "test", "--suite", str(suite), "--report", str(report_path))
    assert result.stdout.splitlines()[-1] == "144 passed, 0 failed"
    assert result.returncode == 0
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert set(report) == {p.name for p in suite.glob("*.json")}
    assert report["basic.json"]["tests"][0] == {"name": "basic attribute", "result": {"passed": True}}


def test_list_merges_user_views_over_shipped_ones(tmp_path: Path) -> None:
    _write(
        tmp_path / "my_patients.json",
        {"resource": "Patient", "name": "my_patients", "select": [{"column": [{"name": "id", "path": "id"}]}]},
    )
    _write(
        tmp_path / "override.json",
        {"resource": "Patient", "name": "patient", "select": [{"column": [{"name": "id", "path": "id"}]}]},
    )
    result = _cli("views", "list", env={"EPIC_VIEWS_DIR": str(tmp_path)}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
    assert lines["my_patients"][2] == "user"
    assert lines["patient"][2] == "user"
    assert lines["observation"][2] == "shipped"


def test_available_views_lets_a_user_override_by_name(tmp_path: Path) -> None:
    mine = {"resource": "Patient", "name": "patient", "select": [{"column": [{"name": "id", "path": "id"}]}]}
    _write(tmp_path / "whatever.json", mine)
    views = available_views(tmp_path)
    assert views["patient"] == mine
    assert "observation" in views
    assert available_views(None)["patient"] != mine


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            {"resource": "Patient", "name": "BadName", "select": [{"column": [{"name": "id", "path": "id"}]}]},
            "invalid SQL name 'BadName'",
        ),
        ({"resource": "Patient", "select": []}, "select: expected at least one select"),
    ],
)
def test_an_invalid_user_view_is_an_error_naming_its_file(tmp_path: Path, content: object, message: str) -> None:
    _write(tmp_path / "broken_view.json", content)
    with pytest.raises(ViewDefinitionError, match=r"broken_view\.json") as raised:
        catalog(tmp_path)
    assert message in str(raised.value)
