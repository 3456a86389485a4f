"""Run the official SQL on FHIR v2 test suite against the compiler.

Each suite file holds ``resources`` (fixtures) and ``tests``; a test passes when the view's rows equal
``expect`` (as an unordered multiset unless the test is marked ordered), its columns equal
``expectColumns``, or — for ``expectError`` — the view is rejected at compile time or its query fails.
Results are reported in the upstream ``test_report.json`` shape.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from epic_assets.views.compiler import compile_view
from epic_assets.views.errors import ViewDefinitionError
from epic_assets.views.sources import JsonTextSource, NdjsonSource

SOURCE_KINDS = ("ndjson", "json_text")


@dataclass(frozen=True)
class CaseResult:
    file: str
    name: str
    passed: bool
    detail: str = ""


@dataclass(frozen=True)
class SuiteCase:
    file: str
    name: str
    resources: list[dict[str, Any]]
    test: dict[str, Any]


def suite_files(suite_dir: Path) -> list[Path]:
    return sorted(p for p in suite_dir.glob("*.json") if p.name != "tests.schema.json")


def load_cases(suite_dir: Path) -> Iterator[SuiteCase]:
    for path in suite_files(suite_dir):
        data = json.loads(path.read_text(encoding="utf-8"))
        for test in data.get("tests", []):
            yield SuiteCase(path.name, test.get("title", "?"), data.get("resources", []), test)


def _normalise(value: Any) -> Any:
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value):
            return int(value)
        return round(value, 9)
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    return value


def _json_value(value: Any) -> Any:
    """A DuckDB result value in the JSON shape the suite writes expectations in."""
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value.__class__.__name__ == "Decimal":
        return float(value)
    return value


def _rows_key(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(_normalise(r), sort_keys=True) for r in rows)


def run_case(case: SuiteCase, workdir: Path, source_kind: str = "ndjson") -> CaseResult:
    test = case.test
    connection = duckdb.connect()
    try:
        try:
            compiled = compile_view(test["view"])
            if source_kind == "ndjson":
                fixture = workdir / "resources.ndjson"
                if not fixture.exists():
                    fixture.write_text("".join(json.dumps(r) + "\n" for r in case.resources), encoding="utf-8")
                sql = compiled.sql(NdjsonSource([fixture]))
            else:
                connection.execute("CREATE TABLE raw (resource VARCHAR)")
                connection.executemany("INSERT INTO raw VALUES (?)", [[json.dumps(r)] for r in case.resources])
                sql = compiled.sql(JsonTextSource(query="SELECT resource FROM raw", column="resource"))
            result = connection.sql(sql)
            columns = [c[0] for c in result.description]
            rows = [dict(zip(columns, (_json_value(v) for v in row), strict=True)) for row in result.fetchall()]
        except (ViewDefinitionError, duckdb.Error) as error:
            if test.get("expectError"):
                return CaseResult(case.file, case.name, True, f"rejected: {error}")
            return CaseResult(case.file, case.name, False, f"error: {error}")
    finally:
        connection.close()
    if test.get("expectError"):
        return CaseResult(case.file, case.name, False, f"expected an error, got {len(rows)} rows")
    if "expectColumns" in test:
        ok = columns == test["expectColumns"]
        return CaseResult(case.file, case.name, ok, "" if ok else f"columns {columns} != {test['expectColumns']}")
    expected = test.get("expect", [])
    if expected and set(columns) != set(expected[0]):
        return CaseResult(case.file, case.name, False, f"columns {columns} != {list(expected[0])}")
    if test.get("expectOrdered") or test.get("ordered"):
        ok = [_normalise(r) for r in rows] == [_normalise(r) for r in expected]
    else:
        ok = _rows_key(rows) == _rows_key(expected)
    return CaseResult(case.file, case.name, ok, "" if ok else f"rows {rows} != expected {expected}")


def run_suite(suite_dir: Path, source_kind: str = "ndjson") -> list[CaseResult]:
    results: list[CaseResult] = []
    current_file = None
    with tempfile.TemporaryDirectory(prefix="sof-suite-") as tmp:
        workdir = Path(tmp)
        for case in load_cases(suite_dir):
            if case.file != current_file:
                current_file = case.file
                workdir = Path(tmp) / case.file
                workdir.mkdir()
            results.append(run_case(case, workdir, source_kind))
    return results


def report(results: list[CaseResult]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """The upstream ``test_report.json`` shape."""
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for result in results:
        out.setdefault(result.file, {"tests": []})["tests"].append(
            {"name": result.name, "result": {"passed": result.passed}}
        )
    return out
