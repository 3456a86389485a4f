"""Derived tables: SQL on FHIR ViewDefinitions run over the current raw state.

One code path: each view is compiled by :mod:`epic_assets.views` and reads the raw layer through a
``JsonTextSource`` (the stored original JSON text). Every source feeds every table: the table is the
union over all sources, each row tagged with a leading ``_source`` column (the raw layer's ``source``),
so a warehouse shared by several (server, Group) sources answers "all patients" and "patients of
source X" alike.

Each table changes atomically, inside its own transaction, so readers see the old table until the new
one is complete, and a view that fails leaves its old table in place. A table is either rebuilt
(``create or replace table``) or, when it was built from the same compiled view and sources and only a
few resources changed since, refreshed: the rows of the changed resources are deleted and their current
versions flattened again (see :mod:`.table_state`). Both give the same rows; ``full=True`` forces
rebuilds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from epic_assets import identifiers
from epic_assets.errors import EpicAssetsError
from epic_assets.warehouse import table_state
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
    # 'rebuilt' (every resource flattened), 'refreshed' (only changed resources) or 'unchanged'.
    how: str = "rebuilt"
    # Resources changed since the previous build, when one could be reused (None: rebuilt from scratch).
    changed_resources: int | None = None

    def describe(self) -> str:
        if self.how == "rebuilt":
            return f"{self.rows} rows, rebuilt ({self.seconds:.2f} s)"
        if self.how == "unchanged":
            return f"{self.rows} rows, unchanged (no {self.resource_type} changed)"
        changed = f"{self.changed_resources} changed {self.resource_type}"
        return f"{self.rows} rows, refreshed {changed} ({self.seconds:.2f} s)"


def build_tables(
    con: duckdb.DuckDBPyConnection,
    *,
    views_dir: Path | None = None,
    views: Mapping[str, Any] | None = None,
    constants: Mapping[str, str] | None = None,
    full: bool = False,
    on_built: Callable[[BuiltTable], None] | None = None,
) -> list[BuiltTable]:
    """Bring one table per ViewDefinition up to date (default: the shipped library plus ``views_dir``).

    Views that fail are reported together at the end, after the others have been built. ``full``
    rebuilds every table from all current resources instead of refreshing what changed; ``on_built``
    hears of each table as soon as it is done.
    """
    definitions = dict(views) if views is not None else view_definitions(views_dir, constants)
    sources = [row[0] for row in con.execute("select distinct source from raw_exports order by 1").fetchall()]
    built: list[BuiltTable] = []
    failures: list[str] = []
    # A table has no row order to keep; letting DuckDB drop it saves ~16% CPU on large views.
    with session_settings(con, preserve_insertion_order="false"):
        for name in sorted(definitions):
            try:
                built.append(build_table(con, definitions[name], sources, full=full))
                if on_built is not None:
                    on_built(built[-1])
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


def build_table(con: duckdb.DuckDBPyConnection, view: Any, sources: list[str], *, full: bool = False) -> BuiltTable:
    """Compile one view and bring its table up to date with every source's current resources."""
    from epic_assets.views import compile_view, load_view

    started = time.perf_counter()
    definition = load_view(view)
    compiled = compile_view(definition)
    table = identifiers.sql_name(compiled.name, where="ViewDefinition name")
    if table.startswith(RAW_PREFIX):
        raise EpicAssetsError(f"view name {table!r} is reserved: names starting with {RAW_PREFIX!r} are the raw layer")
    if SOURCE_COLUMN in compiled.column_names:  # impossible for a valid ViewDefinition; guards a changed compiler
        raise EpicAssetsError(f"view {table!r} defines a column {SOURCE_COLUMN!r}, which the warehouse adds itself")
    resource_type = identifiers.resource_type(compiled.resource, where=f"ViewDefinition {table}")
    key_column = table_state.resource_key_column(definition.select)
    target = _Target(con, compiled, table, resource_type, sources)
    new_state = table_state.TableState(
        table_state.fingerprint(target.rows(None), key_column), tuple(sources), table_state.latest_export_id(con)
    )
    previous = None if full else table_state.read_state(con, table)
    if previous is not None and not (
        key_column is not None
        and previous.definition == new_state.definition
        and previous.sources == new_state.sources
        and _exists(con, table)
    ):
        previous = None
    con.execute("begin transaction")
    try:
        how, changed = _bring_up_to_date(target, previous, key_column)
        table_state.write_state(con, table, resource_type, new_state)
        rows = con.execute(f"select count(*) from {target.quoted}").fetchall()[0][0]
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.execute("drop table if exists _changed_resources")
    return BuiltTable(table, resource_type, int(rows), time.perf_counter() - started, how, changed)


def _bring_up_to_date(
    target: _Target, previous: table_state.TableState | None, key_column: str | None
) -> tuple[str, int | None]:
    """Refresh from the changes since ``previous`` (a reusable earlier build), else rebuild."""
    if previous is None or key_column is None:
        target.rebuild()
        return "rebuilt", None
    con = target.con
    changed = table_state.stage_changed_resources(con, target.resource_type, previous.through_export_id, target.sources)
    if changed == 0:
        return "unchanged", 0
    if changed <= table_state.REFRESH_LIMIT * table_state.current_resources(con, target.resource_type):
        target.refresh(key_column)
        return "refreshed", changed
    target.rebuild()
    return "rebuilt", changed


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    found = con.execute(
        "select count(*) from duckdb_tables() where schema_name = 'main' and not temporary and table_name = ?",
        [table],
    ).fetchall()
    return bool(found[0][0])


class _Target:
    """One derived table and the SQL that fills it from the raw layer."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, compiled: Any, table: str, resource_type: str, sources: list[str]
    ) -> None:
        self.con = con
        self.compiled = compiled
        self.table = table
        self.quoted = identifiers.quote_sql_identifier(table)
        self.resource_type = resource_type
        self.sources = sources

    def rows(self, source: str | None, *, only_changed: bool = False) -> str:
        """The view's rows over ``source``'s current resources (all, or those in ``_changed_resources``)."""
        from epic_assets.views import JsonTextSource

        where = f"resource_type = {identifiers.quote_sql_literal(self.resource_type)}"
        if source is None:
            where += " and false"
        else:
            literal = identifiers.quote_sql_literal(source)
            where += f" and source = {literal}"
            if only_changed:
                where += f" and id in (select id from _changed_resources where source = {literal})"
        # The load guarantees resource_type equals each text's resourceType, so it is not parsed again.
        body = self.compiled.sql(
            JsonTextSource(
                query=f"select resource_type, resource from raw_resources where {where}",
                column="resource",
                resource_type_column="resource_type",
            )
        )
        label = identifiers.quote_sql_literal(source) if source is not None else "null::varchar"
        return f"select {label} as {SOURCE_COLUMN}, * from ({body})"

    def _union(self, *, only_changed: bool = False) -> str:
        if not self.sources:
            return self.rows(None)
        return " union all by name ".join(self.rows(s, only_changed=only_changed) for s in self.sources)

    def rebuild(self) -> None:
        self.con.execute(f"create or replace table {self.quoted} as {self._union()}")

    def refresh(self, key_column: str) -> None:
        key = identifiers.quote_sql_identifier(key_column)
        self.con.execute(
            f"delete from {self.quoted} t using _changed_resources c"
            f" where t.{SOURCE_COLUMN} = c.source and t.{key} = c.id"
        )
        self.con.execute(f"insert into {self.quoted} by name {self._union(only_changed=True)}")
