"""Loading one export directory into the raw layer, as a single transaction.

The heavy lifting is set-based SQL: DuckDB reads every file as lines of text (``read_csv`` with one
VARCHAR column and no delimiter, quote or escape), hashes each line and extracts ``resourceType`` and
``id`` with one JSON parse per line, in parallel. Line numbers come from the staging table's row ids
(inserts keep file order) and are cross-checked against the byte pass of :mod:`.scan`. The comparison
with the current state is one join on (type, id) comparing MD5s; only new and changed texts are written.

Semantics:

* snapshot (default): the export replaces the source's current state for every type it covers (types
  with files, plus types its request's ``_type`` asked for). Resources missing from it are deleted.
* incremental: resources are upserted; ``deleted[]`` Bundles (``DELETE Type/id``) delete. A resource that
  is both in the output and in ``deleted[]`` stays (the output shows it exists).
* duplicates within one export: the last occurrence (file order, then line) wins; every earlier copy
  goes to the quarantine as ``duplicate_id``, naming the winning file and line.
* the same export loaded again (same source, mode and file contents) changes nothing.
* a line that is blank (only whitespace) is not a resource and is only counted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from epic_assets import identifiers
from epic_assets.errors import EpicAssetsError
from epic_assets.warehouse.export_dir import ExportDirectory, ExportFile, read_export_directory
from epic_assets.warehouse.scan import BadLine, ScannedFile, open_export_file, scan_file
from epic_assets.warehouse.schema import ensure_schema

_DEFAULT_MAX_LINE = 2_000_000
_COUNTS = ("loaded", "inserted", "updated", "unchanged", "deleted", "quarantined", "duplicates")


@dataclass
class TypeCounts:
    resource_type: str
    loaded: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    quarantined: int = 0
    duplicates: int = 0


@dataclass
class LoadResult:
    """What one load did. ``already_loaded`` means the same export was applied before: nothing changed."""

    source: str
    export_id: int
    mode: str
    already_loaded: bool
    seconds: float
    lines: int = 0
    blank_lines: int = 0
    types: list[TypeCounts] = field(default_factory=list)

    def total(self, count: str) -> int:
        return sum(getattr(t, count) for t in self.types)


def load_export(
    con: duckdb.DuckDBPyConnection,
    directory: Path,
    *,
    source: str | None = None,
    incremental: bool = False,
    fail_after_stage: bool = False,
) -> LoadResult:
    """Apply the export in ``directory`` to the raw layer of ``con`` in one transaction.

    ``fail_after_stage`` raises after all data has been staged and written, before commit; it exists
    so tests can prove that a failure part-way leaves the previous state intact.
    """
    started = time.perf_counter()
    export = read_export_directory(Path(directory))
    source = _source(source, export)
    mode = "incremental" if incremental else "snapshot"
    with tempfile.TemporaryDirectory(prefix="epic-load-") as scratch:
        scanned = [scan_file(f, Path(scratch)) for f in export.files]
        fingerprint = _fingerprint(mode, scanned, export.deleted_files)
        ensure_schema(con)
        previous = con.execute(
            "select export_id from raw_exports where source = ? and fingerprint = ? order by export_id limit 1",
            [source, fingerprint],
        ).fetchall()
        if previous:
            return LoadResult(source, previous[0][0], mode, True, time.perf_counter() - started)
        load = _Load(con, export, scanned, source, mode, fingerprint)
        try:
            # Staging fills connection-local temp tables outside the transaction: their row ids then run
            # 0..n-1 in file order, which gives line numbers; nothing persistent is touched yet.
            load.stage()
            con.execute("begin transaction")
            _refuse_older_export(con, source, export)
            result = load.apply()
            if fail_after_stage:
                raise RuntimeError("injected failure after staging (test hook)")
            con.execute("commit")
        except BaseException as error:
            _rollback(con)
            if isinstance(error, EpicAssetsError):
                raise
            if isinstance(error, Exception):
                raise EpicAssetsError(
                    f"loading {directory} into source {source!r} failed and was rolled back,"
                    f" so the warehouse is unchanged: {error}"
                ) from error
            raise
        finally:
            load.drop_temporary_tables()
    result.seconds = time.perf_counter() - started
    return result


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    # The transaction may already be gone (DuckDB invalidates it on some errors); nothing was committed.
    with contextlib.suppress(duckdb.Error):
        con.execute("rollback")


def _source(source: str | None, export: ExportDirectory) -> str:
    if source is not None:
        return identifiers.source_name(source, where="--source")
    derived = export.default_source()
    if derived is None:
        raise EpicAssetsError(
            f"{export.root} has no manifest.json naming its server and Group; give the source with --source NAME"
        )
    return derived


def _fingerprint(mode: str, scanned: list[ScannedFile], deleted: tuple[ExportFile, ...]) -> str:
    digest = hashlib.sha256(mode.encode())
    for item in sorted((s.file.name, s.file.resource_type, s.sha256) for s in scanned):
        digest.update("\0".join(item).encode() + b"\n")
    for item in sorted(deleted, key=lambda f: f.name):
        digest.update(f"deleted\0{item.name}\0{hashlib.sha256(item.path.read_bytes()).hexdigest()}\n".encode())
    return digest.hexdigest()


def _refuse_older_export(con: duckdb.DuckDBPyConnection, source: str, export: ExportDirectory) -> None:
    """Applying an older snapshot after a newer one would silently roll the state back."""
    if export.transaction_time is None:
        return
    rows = con.execute(
        "select export_id, transaction_time from raw_exports where source = ? and transaction_time is not null"
        " order by export_id desc limit 1",
        [source],
    ).fetchall()
    if not rows:
        return
    row = rows[0]
    try:
        newer = datetime.fromisoformat(row[1]) > datetime.fromisoformat(export.transaction_time)
    except ValueError:
        return
    if newer:
        raise EpicAssetsError(
            f"{export.root} (transactionTime {export.transaction_time}) is older than export {row[0]}"
            f" ({row[1]}) already loaded for source {source!r}; loading it would roll the data back"
        )


class _Load:
    """The steps of one load inside the open transaction (temp tables are dropped at the end)."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        export: ExportDirectory,
        scanned: list[ScannedFile],
        source: str,
        mode: str,
        fingerprint: str,
    ) -> None:
        self.con = con
        self.export = export
        self.scanned = scanned
        self.source = source
        self.mode = mode
        self.fingerprint = fingerprint
        self.export_id = 0  # assigned inside the transaction

    def stage(self) -> None:
        self._stage()
        self._classify()
        self._mark_duplicates()

    def apply(self) -> LoadResult:
        next_id = self.con.execute("select coalesce(max(export_id), 0) + 1 from raw_exports").fetchall()
        self.export_id = int(next_id[0][0])
        self._quarantine()
        scope = self._scope()
        self._diff(scope)
        self._apply()
        return self._record(scope)

    def drop_temporary_tables(self) -> None:
        with contextlib.suppress(duckdb.Error):  # a broken connection takes its temp tables with it
            self.con.execute("drop view if exists _staged")
            for name in ("_diff", "_valid", "_files", "_stage", "_deleted", "_dups", "_bad"):
                self.con.execute(f"drop table if exists {name}")

    # -- staging -------------------------------------------------------------------------------------
    def _stage(self) -> None:
        con = self.con
        con.execute("create or replace temp table _stage (file_id integer, line varchar, md5 varchar, x json[])")
        con.execute(
            "create or replace temp table _files (file_id integer, file varchar, resource_type varchar,"
            " row_base bigint, line_count bigint)"
        )
        base = 0
        for file_id, scanned in enumerate(self.scanned):
            if scanned.line_count:
                con.execute(
                    f"insert into _stage select {file_id}, line, md5(line),"
                    " try(json_extract(line, ['$.resourceType', '$.id']))"
                    f" from {_line_reader(scanned)}"
                )
            staged = con.execute("select count(*) from _stage").fetchall()[0][0] - base
            if staged != scanned.line_count:
                raise EpicAssetsError(
                    f"{scanned.file.path}: DuckDB read {staged} lines but the file has {scanned.line_count}"
                )
            con.execute(
                "insert into _files values (?, ?, ?, ?, ?)",
                [file_id, scanned.file.name, scanned.file.resource_type, base, scanned.line_count],
            )
            base += staged
        # Row ids of a table filled by ordered inserts run 0..n-1 in insertion order: line = rowid - base + 1.
        con.execute(
            """
            create or replace temp view _staged as
            select s.rowid as srow, s.file_id, f.file, f.resource_type as file_type,
                   s.rowid - f.row_base + 1 as line, s.line as text, s.md5, s.x
            from _stage s join _files f using (file_id)
            """
        )

    # -- classification (still outside the transaction) ----------------------------------------------
    def _classify(self) -> None:
        """Split staged lines into valid resources (``_valid``) and lines for the quarantine (``_bad``)."""
        con = self.con
        valid = "x is not null and x[1] = to_json(file_type) and starts_with(x[2], '\"') and x[2] <> '\"\"'"
        blank = "text is null or trim(text, ' \t') = ''"
        con.execute(
            f"""
            create or replace temp table _bad as
            select file, line, file_type, reason, case reason
                when 'not_json' then 'not valid JSON'
                when 'not_object' then 'a JSON ' || lower(json_type(text)) || ', not an object'
                when 'no_resource_type' then 'has no resourceType (or it is not a string)'
                when 'wrong_type' then 'resourceType ' || x[1] || ' in a file of ' || file_type
                else 'has no id (or its id is not a non-empty string)' end as detail, text
            from (
                select *, case
                    when not json_valid(text) then 'not_json'
                    when json_type(text) <> 'OBJECT' then 'not_object'
                    when coalesce(json_type(text, '$.resourceType'), 'NULL') <> 'VARCHAR' then 'no_resource_type'
                    when x[1] <> to_json(file_type) then 'wrong_type'
                    else 'no_id' end as reason
                from _staged where not ({valid}) and not ({blank})
            )
            """
        )
        con.execute(
            f"""
            create or replace temp table _valid as
            select srow, file, line, file_type as resource_type, json_extract_string(x[2], '$') as id, md5
            from _staged where {valid}
            """
        )

    def _mark_duplicates(self) -> None:
        """Last occurrence wins; earlier copies move to ``_bad`` with a pointer to the winner."""
        con = self.con
        con.execute(
            """
            create or replace temp table _dups as
            select resource_type, id, max(srow) as keep from _valid group by resource_type, id having count(*) > 1
            """
        )
        if not con.execute("select count(*) from _dups").fetchall()[0][0]:
            return
        con.execute(
            """
            insert into _bad
            select v.file, v.line, v.resource_type, 'duplicate_id',
                   'duplicate id ' || v.id || ': superseded by ' || w.file || ' line ' || w.line
                   || ' (the last occurrence wins)', s.text
            from _valid v join _dups d using (resource_type, id)
            join _staged s on s.srow = v.srow
            join _valid w on w.srow = d.keep
            where v.srow <> d.keep
            """
        )
        con.execute(
            "delete from _valid v using _dups d"
            " where v.resource_type = d.resource_type and v.id = d.id and v.srow <> d.keep"
        )

    # -- inside the transaction ----------------------------------------------------------------------
    def _quarantine(self) -> None:
        for scanned in self.scanned:
            self._insert_bad_lines(scanned.file, scanned.bad_lines)
        self.con.execute(
            f"insert into raw_quarantine select {self.export_id}, ?, file, line, file_type, reason, detail, text, null"
            " from _bad order by file, line",
            [self.source],
        )

    def _insert_bad_lines(self, export_file: ExportFile, bad_lines: list[BadLine]) -> None:
        if not bad_lines:
            return
        self.con.executemany(
            "insert into raw_quarantine values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [
                    self.export_id,
                    self.source,
                    export_file.name,
                    bad.line_no,
                    export_file.resource_type,
                    bad.reason,
                    bad.detail,
                    bad.text,
                    None if bad.text is not None else bad.raw,
                ]
                for bad in bad_lines
            ],
        )

    # -- comparison with the current state -----------------------------------------------------------
    def _scope(self) -> list[str]:
        """The types a snapshot replaces: its file types plus requested ones (matched case-insensitively)."""
        stored = [
            row[0]
            for row in self.con.execute(
                "select distinct resource_type from raw_resource_versions where source = ? and superseded_by is null",
                [self.source],
            ).fetchall()
        ]
        scope = set(self.export.file_types)
        known = {t.lower(): t for t in [*stored, *scope]}
        scope.update(known.get(t.lower(), t) for t in self.export.requested_types)
        return sorted(scope)

    def _diff(self, scope: list[str]) -> None:
        con = self.con
        current = (
            "select resource_type, id, content_md5 from raw_resource_versions"
            " where source = $source and superseded_by is null and resource_type in (select unnest($scope))"
        )
        if self.mode == "snapshot":
            con.execute(
                f"""
                create or replace temp table _diff as
                select coalesce(v.resource_type, c.resource_type) as resource_type, coalesce(v.id, c.id) as id,
                       v.srow, v.file, v.line, v.md5 as content_md5, c.content_md5 as previous_md5,
                       case when c.id is null then 'inserted' when v.id is null then 'deleted'
                            when v.md5 = c.content_md5 then 'unchanged' else 'updated' end as change
                from _valid v full outer join ({current}) c on v.resource_type = c.resource_type and v.id = c.id
                """,
                {"source": self.source, "scope": scope},
            )
            return
        con.execute(
            f"""
            create or replace temp table _diff as
            select v.resource_type, v.id, v.srow, v.file, v.line, v.md5 as content_md5, c.content_md5 as previous_md5,
                   case when c.id is null then 'inserted' when v.md5 = c.content_md5 then 'unchanged'
                        else 'updated' end as change
            from _valid v left join ({current}) c on v.resource_type = c.resource_type and v.id = c.id
            """,
            {"source": self.source, "scope": sorted({*scope, *self._deleted_types()})},
        )
        self._stage_deletions()
        con.execute(
            f"""
            insert into _diff
            select d.resource_type, d.id, null, null, null, null, c.content_md5, 'deleted'
            from _deleted d
            join ({current}) c on c.resource_type = d.resource_type and c.id = d.id
            where not exists (select 1 from _valid v where v.resource_type = d.resource_type and v.id = d.id)
            """,
            {"source": self.source, "scope": sorted(self._deleted_types())},
        )

    def _deleted_types(self) -> set[str]:
        return {t for t, _ in self._deletions()}

    def _deletions(self) -> list[tuple[str, str]]:
        if not hasattr(self, "_deletion_list"):
            self._deletion_list = sorted(set(_read_deleted_bundles(self.export.deleted_files)))
        return self._deletion_list

    def _stage_deletions(self) -> None:
        self.con.execute("create or replace temp table _deleted (resource_type varchar, id varchar)")
        if self._deletions():
            self.con.executemany("insert into _deleted values (?, ?)", [list(d) for d in self._deletions()])

    # -- applying ------------------------------------------------------------------------------------
    def _apply(self) -> None:
        con = self.con
        con.execute(
            f"""
            update raw_resource_versions r set superseded_by = {self.export_id}
            from _diff d
            where r.source = ? and r.superseded_by is null and r.resource_type = d.resource_type and r.id = d.id
              and d.change in ('updated', 'deleted')
            """,
            [self.source],
        )
        con.execute(
            f"""
            insert into raw_resource_versions
            select ?, d.resource_type, d.id, d.content_md5, s.line, {self.export_id}, d.file, d.line, null
            from _diff d join _stage s on s.rowid = d.srow
            where d.change in ('inserted', 'updated')
            """,
            [self.source],
        )
        con.execute(
            f"""
            insert into raw_changes
            select {self.export_id}, ?, resource_type, id, change, content_md5, previous_md5
            from _diff where change <> 'unchanged'
            """,
            [self.source],
        )

    def _record(self, scope: list[str]) -> LoadResult:
        con = self.con
        counts: dict[str, TypeCounts] = {t: TypeCounts(t) for t in scope}
        for resource_type, change, n in con.execute(
            "select resource_type, change, count(*) from _diff group by all"
        ).fetchall():
            setattr(counts.setdefault(resource_type, TypeCounts(resource_type)), change, n)
        for resource_type, reason, n in con.execute(
            "select resource_type, reason = 'duplicate_id', count(*) from raw_quarantine"
            " where export_id = ? group by all",
            [self.export_id],
        ).fetchall():
            entry = counts.setdefault(resource_type, TypeCounts(resource_type))
            if reason:
                entry.duplicates += n
            else:
                entry.quarantined += n
        for entry in counts.values():
            entry.loaded = entry.inserted + entry.updated + entry.unchanged
        lines, blank = con.execute(
            "select count(*), count_if(text is null or trim(text, ' \t') = '') from _staged"
        ).fetchall()[0]
        result = LoadResult(
            self.source,
            self.export_id,
            self.mode,
            False,
            0.0,
            lines=lines - blank,
            blank_lines=blank,
            types=sorted(counts.values(), key=lambda t: t.resource_type),
        )
        con.executemany(
            "insert into raw_export_types values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [[self.export_id, self.source, t.resource_type, *(getattr(t, c) for c in _COUNTS)] for t in result.types],
        )
        con.execute(
            "insert into raw_exports values (?, ?, ?, ?, ?, ?, ?, ?, now(), ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                self.export_id,
                self.source,
                self.mode,
                self.fingerprint,
                self.export.transaction_time,
                self.export.request,
                str(self.export.root),
                scope,
                result.lines,
                *(result.total(c) for c in _COUNTS),
            ],
        )
        files = [
            [
                self.export_id,
                i,
                s.file.name,
                "output",
                s.file.resource_type,
                s.file.url,
                s.sha256,
                s.byte_count,
                s.line_count,
            ]
            for i, s in enumerate(self.scanned)
        ]
        if files:
            con.executemany("insert into raw_export_files values (?, ?, ?, ?, ?, ?, ?, ?, ?)", files)
        return result


def _line_reader(scanned: ScannedFile) -> str:
    """``read_csv`` set up to return each physical line, untouched, as one VARCHAR ``line``."""
    options = [
        "columns={'line': 'VARCHAR'}",
        "delim=chr(0)",  # no byte of a line that reaches DuckDB is NUL (the byte pass made sure)
        "quote=''",
        "escape=''",
        "header=false",
        "auto_detect=false",
        "strict_mode=false",
        "new_line='\\n'",
        f"compression='{'gzip' if scanned.gzip_compressed else 'none'}'",
    ]
    if scanned.longest_line + 2 > _DEFAULT_MAX_LINE:
        size = scanned.longest_line + 1024
        options += [f"max_line_size={size}", f"buffer_size={max(size * 2, 32 * 1024 * 1024)}"]
    return f"read_csv({identifiers.quote_sql_literal(str(scanned.read_path))}, {', '.join(options)})"


def _read_deleted_bundles(files: tuple[ExportFile, ...]) -> list[tuple[str, str]]:
    """``(type, id)`` pairs from ``deleted[]`` NDJSON Bundles with ``request.method = DELETE``."""
    deletions: list[tuple[str, str]] = []
    for export_file in files:
        with open_export_file(export_file.path) as handle:
            for line_no, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                where = f"{export_file.name} line {line_no}"
                try:
                    bundle = json.loads(raw)
                except (UnicodeDecodeError, json.JSONDecodeError) as error:
                    raise EpicAssetsError(f"deleted-resources file {where} is not valid JSON: {error}") from None
                for entry in bundle.get("entry", []) if isinstance(bundle, dict) else []:
                    request = entry.get("request", {}) if isinstance(entry, dict) else {}
                    if str(request.get("method", "")).upper() != "DELETE":
                        continue
                    url = str(request.get("url", ""))
                    type_name, _, resource_id = url.strip("/").rpartition("/")
                    if not resource_id or "/" in type_name:
                        raise EpicAssetsError(f"deleted-resources file {where}: request.url {url!r} is not Type/id")
                    deletions.append((identifiers.resource_type(type_name, where=where), resource_id))
    return deletions
