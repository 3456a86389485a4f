"""Shared helpers for the table-library tests: find input files, run a shipped view, read inputs in Python.

Expectations in the library tests are computed from the same input JSON with plain Python (these helpers),
never typed in by hand, so a test fails if the view and the data disagree.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from epic_assets.views import NdjsonSource, compile_view, load_view
from epic_assets.views.library import load_view_json, view_names

Row = dict[str, Any]

SYNTHEA_SETS = ("pathling-r4-9pt", "bulk-data-server-r4-100pt")


def ndjson_files(directory: Path, resource_type: str) -> list[Path]:
    """The `<Type>.ndjson`, `<Type>.ndjson.gz`, `<Type>.<nnn>.ndjson(.gz)` files of one type, sorted."""
    return sorted(
        path
        for path in directory.iterdir()
        if path.name.startswith(f"{resource_type}.") and path.name.endswith((".ndjson", ".ndjson.gz"))
    )


def read_resources(paths: list[Path]) -> list[dict[str, Any]]:
    resources: list[dict[str, Any]] = []
    for path in paths:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as handle:
            resources.extend(json.loads(line) for line in handle if line.strip())
    return resources


def run_view(view: Mapping[str, Any], paths: list[Path]) -> list[Row]:
    """Compile a ViewDefinition dict and run it over NDJSON files in a fresh in-memory DuckDB (UTC session)."""
    compiled = compile_view(load_view(dict(view)))
    sql = compiled.sql(NdjsonSource(paths=[str(path) for path in paths]))
    with duckdb.connect() as connection:
        connection.execute("SET TimeZone = 'UTC'")
        cursor = connection.execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def run_library_view(name: str, directory: Path, constants: Mapping[str, str] | None = None) -> list[Row]:
    view = load_view_json(name, constants)
    files = ndjson_files(directory, view["resource"])
    assert files, f"no {view['resource']} files in {directory}"
    return run_view(view, files)


class ViewRunner:
    """Runs each shipped view at most once per input directory (the big Synthea set takes seconds per view)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._cache: dict[str, list[Row]] = {}
        self._resources: dict[str, list[dict[str, Any]]] = {}

    def rows(self, name: str) -> list[Row]:
        if name not in self._cache:
            self._cache[name] = run_library_view(name, self.directory)
        return self._cache[name]

    def resources(self, resource_type: str) -> list[dict[str, Any]]:
        if resource_type not in self._resources:
            self._resources[resource_type] = read_resources(ndjson_files(self.directory, resource_type))
        return self._resources[resource_type]


# --- reading FHIR JSON in Python, to derive expectations -------------------------------------------------


def reference_id(reference: Mapping[str, Any] | None, resource_type: str) -> str | None:
    """The id of a `Type/id` reference of the given type; None for urn:uuid and other forms."""
    text = (reference or {}).get("reference", "")
    prefix = f"{resource_type}/"
    return text[len(prefix) :] if text.startswith(prefix) else None


def codings_of(concept: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    return list((concept or {}).get("coding", []))


def first_coding_in(concept: Mapping[str, Any] | None, systems: list[str], skip_codes: tuple[str, ...] = ()) -> Any:
    for coding in codings_of(concept):
        if coding.get("system") in systems and coding.get("code") not in skip_codes:
            return coding
    return None


def has_category(resource: Mapping[str, Any], system: str, code: str) -> bool:
    return any(
        coding.get("system") == system and coding.get("code") == code
        for category in resource.get("category", [])
        for coding in category.get("coding", [])
    )


OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


def is_vital_sign(resource: Mapping[str, Any]) -> bool:
    return has_category(resource, OBSERVATION_CATEGORY, "vital-signs")


def is_laboratory(resource: Mapping[str, Any]) -> bool:
    return has_category(resource, OBSERVATION_CATEGORY, "laboratory")


def fhir_instant(text: str) -> datetime:
    """The first instant a FHIR date/dateTime text denotes, in UTC (partial dates start at midnight UTC)."""
    if len(text) == 4:
        return datetime(int(text), 1, 1, tzinfo=UTC)
    if len(text) == 7:
        return datetime(int(text[:4]), int(text[5:7]), 1, tzinfo=UTC)
    if len(text) == 10:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def fhir_date(text: str) -> date:
    """The first day a FHIR date text denotes."""
    return fhir_instant(text[:10]).date()


def as_utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def by_id(rows: list[Row], key: str = "id") -> dict[Any, Row]:
    index: dict[Any, Row] = {}
    for row in rows:
        assert row[key] not in index, f"duplicate {key} {row[key]!r}"
        index[row[key]] = row
    return index


def group_by(rows: list[Row], key: str) -> dict[Any, list[Row]]:
    groups: dict[Any, list[Row]] = {}
    for row in rows:
        groups.setdefault(row[key], []).append(row)
    return groups


def write_ndjson(directory: Path, resources: list[dict[str, Any]]) -> None:
    """Write resources as `<Type>.ndjson` files, one per type, preserving order."""
    by_type: dict[str, list[dict[str, Any]]] = {}
    for resource in resources:
        by_type.setdefault(resource["resourceType"], []).append(resource)
    for resource_type, items in by_type.items():
        with (directory / f"{resource_type}.ndjson").open("w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(item, separators=(",", ":")) + "\n" for item in items)


def iter_sample_resources(epic_samples: Path) -> Iterator[dict[str, Any]]:
    """Every captured single-resource sample of a type the library covers, then the bulk Observation NDJSON.

    The bulk file repeats the BP sample; each (type, id) is yielded once so resource keys stay unique.
    """
    covered = {load_view_json(name)["resource"] for name in view_names()}
    singles = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(epic_samples.glob("*.json"))]
    bulk = read_resources(sorted(epic_samples.glob("bulk-output.Observation*.ndjson")))
    seen: set[tuple[str, str]] = set()
    for resource in [*singles, *bulk]:
        identity = (resource.get("resourceType", ""), resource.get("id", ""))
        if identity[0] in covered and identity not in seen:
            seen.add(identity)
            yield resource


def materialize_library(connection: duckdb.DuckDBPyConnection, directory: Path) -> None:
    """A table per shipped view; empty (with the compiled column types) where `directory` lacks the type."""
    for name in view_names():
        view = load_view_json(name)
        compiled = compile_view(load_view(view))
        files = ndjson_files(directory, view["resource"])
        if files:
            sql = compiled.sql(NdjsonSource(paths=[str(path) for path in files]))
            connection.execute(f'CREATE TABLE "{name}" AS {sql}')
        else:
            columns = ", ".join(f'"{column}" {sql_type}' for column, sql_type in compiled.columns)
            connection.execute(f'CREATE TABLE "{name}" ({columns})')
