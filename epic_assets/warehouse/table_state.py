"""What each derived table was built from, so the next build can re-flatten only what changed.

SQL on FHIR views are per-resource: a resource's rows depend on that resource alone. So when a table
was built from the same compiled view over the same sources, bringing it up to date needs only the
resources the change log (``raw_changes``) lists since then: delete their rows, flatten their current
versions again. ``raw_table_builds`` records, per table, the fingerprint of the compiled SQL (which
captures the view, its constants, the compiler and the DuckDB version), the sources, and the last
export the table includes. Anything else (a new view, other constants, a new source, a table that
disappeared, or a view without a resource-key column to find a resource's rows) means a full rebuild.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

# Above this share of changed resources a full rebuild is cheaper than deleting and re-inserting.
REFRESH_LIMIT = 0.25


@dataclass(frozen=True)
class TableState:
    definition: str
    sources: tuple[str, ...]
    through_export_id: int


def fingerprint(compiled_sql: str, key_column: str | None) -> str:
    """Identity of a table's content rule: the compiled SQL, the key column, and DuckDB's version."""
    digest = hashlib.sha256(compiled_sql.encode())
    digest.update(f"\0{key_column}\0{duckdb.__version__}".encode())
    return digest.hexdigest()


def resource_key_column(select: Sequence[Mapping[str, Any]]) -> str | None:
    """A column holding ``getResourceKey()`` on every row, if the view has one.

    Only selects that do not iterate (no ``forEach``/``forEachOrNull``/``repeat``, outside any
    ``unionAll``) give one value per resource, so only their columns are considered.
    """
    for element in select:
        if any(key in element for key in ("forEach", "forEachOrNull", "repeat")):
            continue
        for column in element.get("column", []):
            if str(column.get("path", "")).replace(" ", "") == "getResourceKey()":
                return str(column["name"])
        nested = resource_key_column(element.get("select", []))
        if nested is not None:
            return nested
    return None


def latest_export_id(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("select coalesce(max(export_id), 0) from raw_exports").fetchall()[0][0])


def read_state(con: duckdb.DuckDBPyConnection, table: str) -> TableState | None:
    rows = con.execute(
        "select definition, sources, through_export_id from raw_table_builds where table_name = ?", [table]
    ).fetchall()
    if not rows:
        return None
    definition, sources, through = rows[0]
    return TableState(definition, tuple(sources), int(through))


def write_state(con: duckdb.DuckDBPyConnection, table: str, resource_type: str, state: TableState) -> None:
    con.execute(
        "insert or replace into raw_table_builds values (?, ?, ?, ?, ?, now())",
        [table, resource_type, state.definition, list(state.sources), state.through_export_id],
    )


def stage_changed_resources(
    con: duckdb.DuckDBPyConnection, resource_type: str, since_export_id: int, sources: Sequence[str]
) -> int:
    """Fill temp table ``_changed_resources`` (source, id) with what changed after ``since_export_id``."""
    con.execute(
        """
        create or replace temp table _changed_resources as
        select distinct source, id from raw_changes
        where resource_type = ? and export_id > ? and source in (select unnest(?::varchar[]))
        """,
        [resource_type, since_export_id, list(sources)],
    )
    return int(con.execute("select count(*) from _changed_resources").fetchall()[0][0])


def current_resources(con: duckdb.DuckDBPyConnection, resource_type: str) -> int:
    return int(
        con.execute("select count(*) from raw_resources where resource_type = ?", [resource_type]).fetchall()[0][0]
    )
