"""The notebook / pipeline entry point: one object around one DuckDB file."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import duckdb
import polars as pl

from epic_assets import identifiers
from epic_assets.errors import EpicAssetsError
from epic_assets.warehouse.connection import connect
from epic_assets.warehouse.loader import LoadResult, load_export
from epic_assets.warehouse.schema import ensure_schema
from epic_assets.warehouse.tables import BuiltTable, build_tables


class Warehouse:
    """A DuckDB warehouse file: raw layer, change log, quarantine and derived tables.

    Open it with :func:`open_warehouse`; use it as a context manager (or call :meth:`close`) so the
    file's lock is released.
    """

    def __init__(self, path: Path, con: duckdb.DuckDBPyConnection, read_only: bool) -> None:
        self.path = path
        self.con = con
        self.read_only = read_only

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    def load(
        self,
        directory: Path,
        *,
        source: str | None = None,
        incremental: bool = False,
        progress: Callable[[str], None] | None = None,
    ) -> LoadResult:
        """Apply one downloaded export (see :mod:`epic_assets.warehouse.export_dir` for the layout).

        ``progress`` receives a line as each phase of the load ends.
        """
        self._require_writable("load an export")
        return load_export(self.con, Path(directory), source=source, incremental=incremental, progress=progress)

    def build_tables(
        self,
        views_dir: Path | None = None,
        constants: Mapping[str, str] | None = None,
        *,
        full: bool = False,
        on_built: Callable[[BuiltTable], None] | None = None,
    ) -> list[BuiltTable]:
        """Bring every derived table up to date with the ViewDefinitions (shipped library + ``views_dir``).

        ``constants`` override view constants by name, e.g. ``{"mrn_system": ...}``. A table built from
        the same view is refreshed (only resources changed since are flattened again) unless ``full``.
        """
        self._require_writable("build tables")
        return build_tables(self.con, views_dir=views_dir, constants=constants, full=full, on_built=on_built)

    def tables(self) -> list[str]:
        """Names of all tables and views in the warehouse (raw ones start with ``raw_``)."""
        return [
            row[0]
            for row in self.con.execute(
                "select table_name from information_schema.tables where table_schema = 'main' order by 1"
            ).fetchall()
        ]

    def table(self, name: str) -> pl.DataFrame:
        """A whole table as a polars DataFrame (for handing data to people; flattening happens in SQL)."""
        table_name = self.existing_table(name)
        return self.query(f"select * from {identifiers.quote_sql_identifier(table_name)}")

    def query(self, sql: str, parameters: list[object] | None = None) -> pl.DataFrame:
        """Run SQL and return the result as a polars DataFrame (types preserved through Parquet)."""
        relation_sql = sql.strip().rstrip(";")
        with tempfile.TemporaryDirectory(prefix="epic-query-") as scratch:
            target = Path(scratch) / "result.parquet"
            self.con.execute(
                f"copy ({relation_sql}) to {identifiers.quote_sql_literal(str(target))} (format parquet)",
                parameters or [],
            )
            return pl.read_parquet(target)

    def changes(self, source: str | None = None, export_id: int | None = None) -> pl.DataFrame:
        """What one export inserted, updated or deleted (default: the latest export of ``source``, or of all).

        Unchanged resources are not listed; their counts are in ``raw_export_types``.
        """
        if export_id is None:
            where, parameters = ("where source = ?", [identifiers.source_name(source)]) if source else ("", [])
            latest = self.con.execute(f"select max(export_id) from raw_exports {where}", parameters).fetchall()
            export_id = latest[0][0]
            if export_id is None:
                raise EpicAssetsError(f"no export loaded{f' for source {source!r}' if source else ''} in {self.path}")
        return self.query(
            "select source, resource_type, id, change, content_hash, previous_hash from raw_changes"
            " where export_id = ? order by resource_type, id",
            [int(export_id)],
        )

    def existing_table(self, name: str) -> str:
        """Validate ``name`` and check it exists; the returned name is safe to splice into SQL."""
        table_name = identifiers.sql_name(name, where="table name")
        if table_name not in self.tables():
            raise EpicAssetsError(f"no table {table_name!r} in {self.path} (have: {', '.join(self.tables())})")
        return table_name

    def _require_writable(self, action: str) -> None:
        if self.read_only:
            raise EpicAssetsError(f"cannot {action}: the warehouse {self.path} was opened read-only")


def open_warehouse(path: Path | str, *, read_only: bool = False, memory_limit: str | None = None) -> Warehouse:
    """Open (creating when writable) the warehouse at ``path``.

    ``read_only=True`` is for queries and exports; it fails with a one-sentence message naming the
    holder when another process has the file open for writing.
    """
    path = Path(path)
    con = connect(path, read_only=read_only, memory_limit=memory_limit)
    if not read_only:
        try:
            ensure_schema(con)
        except BaseException:
            con.close()  # release the file: the caller gets an error, not an open handle
            raise
    return Warehouse(path, con, read_only)
