"""Derived tables: SQL on FHIR ViewDefinitions run over the current raw state.

One code path: each view is compiled by :mod:`epic_assets.views` and reads the raw layer through a
``JsonTextSource`` (the stored original JSON text). Every source feeds every table: the table is the
union over all sources, each row tagged with a leading ``_source`` column (the raw layer's ``source``),
so a warehouse shared by several (server, Group) sources answers "all patients" and "patients of
source X" alike.

Each table is rebuilt atomically: ``create or replace table`` inside its own transaction, so readers
see the old table until the new one is complete, and a view that fails leaves its old table in place.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from epic_assets import identifiers
from epic_assets.errors import EpicAssetsError
from epic_assets.warehouse.connection import session_settings
from epic_assets.warehouse.schema import RAW_PREFIX

# SQL on FHIR column names must start with a letter, so a leading underscore can never collide with a
# view's own columns (the shipped vital_signs view already has a ``source`` column of its own).
SOURCE_COLUMN = "_source"


@dataclass(frozen=True)
class BuiltTable:
    name: str
    resource_type: str
    rows: int
    seconds: float


def build_tables(
    con: duckdb.DuckDBPyConnection,
    *,
    views_dir: Path | None = None,
    views: Mapping[str, Any] | None = None,
    constants: Mapping[str, str] | None = None,
) -> list[BuiltTable]:
    """Rebuild one table per ViewDefinition (default: the shipped library plus ``views_dir``).

    Views that fail are reported together at the end, after the others have been built.
    """
    definitions = dict(views) if views is not None else view_definitions(views_dir, constants)
    sources = [row[0] for row in con.execute("select distinct source from raw_exports order by 1").fetchall()]
    built: list[BuiltTable] = []
    failures: list[str] = []
    # A table has no row order to keep; letting DuckDB drop it saves ~16% CPU on large views.
    with session_settings(con, preserve_insertion_order="false"):
        for name in sorted(definitions):
            try:
                built.append(build_table(con, definitions[name], sources))
            except (EpicAssetsError, ValueError, duckdb.Error) as error:
                failures.append(f"{name}: {str(error).splitlines()[0]}")
    if failures:
        raise EpicAssetsError(
            f"{len(failures)} of {len(definitions)} derived tables could not be built (their previous tables are"
            f" unchanged): " + "; ".join(failures)
        )
    return built


def view_definitions(views_dir: Path | None, constants: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The shipped library plus ``views_dir`` (a user view replaces a shipped one), by name."""
    from epic_assets.views.catalog import available_views

    return dict(available_views(views_dir, constants))


def build_table(con: duckdb.DuckDBPyConnection, view: Any, sources: list[str]) -> BuiltTable:
    """Compile one view and (re)create its table from every source's current resources."""
    from epic_assets.views import JsonTextSource, compile_view, load_view

    started = time.perf_counter()
    compiled = compile_view(load_view(view))
    table = identifiers.sql_name(compiled.name, where="ViewDefinition name")
    if table.startswith(RAW_PREFIX):
        raise EpicAssetsError(f"view name {table!r} is reserved: names starting with {RAW_PREFIX!r} are the raw layer")
    columns = [c[0] if isinstance(c, tuple) else getattr(c, "name", c) for c in compiled.columns]
    if SOURCE_COLUMN in columns:  # impossible for a valid ViewDefinition; guards a changed compiler
        raise EpicAssetsError(f"view {table!r} defines a column {SOURCE_COLUMN!r}, which the warehouse adds itself")
    resource_type = identifiers.resource_type(compiled.resource, where=f"ViewDefinition {table}")

    def rows_of(source: str | None) -> str:
        where = f"resource_type = {identifiers.quote_sql_literal(resource_type)}"
        where += f" and source = {identifiers.quote_sql_literal(source)}" if source is not None else " and false"
        body = compiled.sql(
            JsonTextSource(
                query=f"select resource_type, resource from raw_resources where {where}",
                column="resource",
                resource_type_column="resource_type",
            )
        )
        label = identifiers.quote_sql_literal(source) if source is not None else "null::varchar"
        return f"select {label} as {SOURCE_COLUMN}, * from ({body})"

    union = " union all by name ".join(rows_of(s) for s in sources) if sources else rows_of(None)
    quoted = identifiers.quote_sql_identifier(table)
    con.execute("begin transaction")
    try:
        con.execute(f"create or replace table {quoted} as {union}")
        rows = con.execute(f"select count(*) from {quoted}").fetchall()[0][0]
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return BuiltTable(table, resource_type, int(rows), time.perf_counter() - started)
