"""Loading one export directory into the raw layer, as a single transaction.

The heavy lifting is set-based SQL: DuckDB reads every file as lines of text (``read_csv`` with one
VARCHAR column and no delimiter, quote or escape), hashes each line and extracts ``resourceType`` and
``id`` with one JSON parse per line, in parallel, into a small staging table without the texts. Line
numbers come from the staging table's row ids (inserts keep file order) and are cross-checked against
the byte pass of :mod:`.scan`. The comparison with the current state is one join on (type, id)
comparing hashes and lengths; then the files are read once more, in parallel, and only new and changed
texts are written, each matched to its staged row by file, hash and length (the few lines of ids that
occur twice are paired by position instead).

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
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from epic_assets import identifiers
from epic_assets.errors import EpicAssetsError
from epic_assets.warehouse.connection import session_settings
from epic_assets.warehouse.export_dir import ExportDirectory, ExportFile, read_export_directory
from epic_assets.warehouse.scan import BadLine, ScannedFile, longest_line, scan_file
from epic_assets.warehouse.schema import ensure_schema, refresh_content_hashes
from epic_assets.warehouse.side_files import read_deleted_bundles, read_operation_outcomes

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
    # Issues the server reported in the manifest's error[] files, by severity.
    messages: dict[str, int] = field(default_factory=dict)

    def total(self, count: str) -> int:
        return sum(getattr(t, count) for t in self.types)


def load_export(
    con: duckdb.DuckDBPyConnection,
    directory: Path,
    *,
    source: str | None = None,
    incremental: bool = False,
    progress: Callable[[str], None] | None = None,
    fail_before_commit: bool = False,
) -> LoadResult:
    """Apply the export in ``directory`` to the raw layer of ``con`` in one transaction.

    ``progress`` receives a line as each phase ends (large exports take a while). ``fail_before_commit``
    raises after everything has been written, just before the commit; it exists so tests can prove that
    a failure part-way leaves the previous state intact.
    """
    started = time.perf_counter()
    phase = _Phases(progress)
    export = read_export_directory(Path(directory))
    source = _source(source, export)
    mode = "incremental" if incremental else "snapshot"
    with tempfile.TemporaryDirectory(prefix="epic-load-") as scratch:
        # Two files at a time: hashing and decompression release the GIL.
        with ThreadPoolExecutor(max_workers=2) as pool:
            scanned = list(pool.map(lambda f: scan_file(f, Path(scratch)), export.files))
        rewritten = sum(1 for s in scanned if s.slow_path)
        phase.done(
            f"checked {len(scanned)} files, {sum(s.byte_count for s in scanned) / 1e6:,.0f} MB"
            + (f" ({rewritten} with unreadable lines set aside)" if rewritten else "")
        )
        fingerprint = _fingerprint(mode, scanned, export.deleted_files, export.error_files)
        ensure_schema(con)
        previous = con.execute(
            "select export_id from raw_exports where source = ? and fingerprint = ? order by export_id limit 1",
            [source, fingerprint],
        ).fetchall()
        if previous:
            return LoadResult(source, previous[0][0], mode, True, time.perf_counter() - started)
        _refuse_older_export(con, source, export)
        load = _Load(con, export, scanned, source, mode, fingerprint, Path(scratch))
        try:
            # Staging fills connection-local temp tables outside the transaction: their row ids then run
            # 0..n-1 in file order, which gives line numbers; nothing persistent is touched yet.
            load.stage()
            phase.done(f"read {sum(s.line_count for s in scanned):,} lines")
            con.execute("begin transaction")
            result = load.apply()
            if fail_before_commit:
                raise RuntimeError("injected failure before commit (test hook)")
            con.execute("commit")
            phase.done(
                f"compared with the current state and stored {result.total('inserted') + result.total('updated'):,}"
                " new or changed resources"
            )
        except BaseException as error:
            _rollback(con)
            if isinstance(error, EpicAssetsError):
                raise
            if isinstance(error, Exception):
                raise EpicAssetsError(
                    f"loading {directory} into source {source!r} failed and was rolled back,"
                    f" so the warehouse is unchanged: {_first_line(error)}"
                ) from error
            raise
        finally:
            load.drop_temporary_tables()
    result.seconds = time.perf_counter() - started
    return result


class _Phases:
    """Reports each finished phase of a load, with its duration, to an optional callback."""

    def __init__(self, progress: Callable[[str], None] | None) -> None:
        self.progress = progress
        self.started = time.perf_counter()

    def done(self, what: str) -> None:
        now = time.perf_counter()
        if self.progress is not None:
            self.progress(f"{what} in {now - self.started:.1f} s")
        self.started = now


def _first_line(error: BaseException) -> str:
    """DuckDB messages carry pages of context after the first line; the first one says what happened."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


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


def _fingerprint(
    mode: str, scanned: list[ScannedFile], deleted: tuple[ExportFile, ...], errors: tuple[ExportFile, ...]
) -> str:
    digest = hashlib.sha256(mode.encode())
    for item in sorted((s.file.name, s.file.resource_type, s.sha256) for s in scanned):
        digest.update("\0".join(item).encode() + b"\n")
    for kind, items in (("deleted", deleted), ("error", errors)):
        for item in sorted(items, key=lambda f: f.name):
            digest.update(f"{kind}\0{item.name}\0{hashlib.sha256(item.path.read_bytes()).hexdigest()}\n".encode())
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
    """The steps of one load: staging into temp tables, then applying inside the transaction."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        export: ExportDirectory,
        scanned: list[ScannedFile],
        source: str,
        mode: str,
        fingerprint: str,
        scratch: Path,
    ) -> None:
        self.con = con
        self.scratch = scratch
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
        messages = self._record_messages()
        scope = self._scope()
        refresh_content_hashes(self.con)
        self._diff(scope)
        self._apply()
        result = self._record(scope)
        result.messages = messages
        return result

    def drop_temporary_tables(self) -> None:
        with contextlib.suppress(duckdb.Error):  # a broken connection takes its temp tables with it
            self.con.execute("drop view if exists _staged")
            for name in ("_diff", "_files", "_stage", "_deleted", "_bad", "_dups"):
                self.con.execute(f"drop table if exists {name}")
            for variable in _FILE_LISTS:
                self.con.execute(f"reset variable {variable}")

    # -- staging (outside the transaction) -----------------------------------------------------------
    def _stage(self) -> None:
        """One small row per physical line, in file order; ``id`` is set exactly when the line is a resource.

        Valid: a JSON object whose ``resourceType`` is its file's type and that has a non-empty ``id``.
        Both come from one JSON parse per line (``json_extract_string`` with a list of paths); an id
        that is not a JSON string is taken as its JSON text. The text itself is not staged (memory stays
        small): the few statements that need it read the files again, aligned by position.
        All files sharing a compression are read by one ``read_csv`` call, so DuckDB parses them in parallel.
        """
        con = self.con
        con.execute(
            "create or replace temp table _stage (file_no integer, rtype varchar, id varchar, hash ubigint,"
            " length bigint, blank boolean, duplicate boolean, store boolean)"
        )
        con.execute(
            "create or replace temp table _files (file_id integer, path varchar, file varchar, resource_type varchar,"
            " row_base bigint, line_count bigint)"
        )
        # Plain files first, then gzip ones, each in export order; row ids follow this order. DuckDB reads
        # each file through a link named by its number, so every row knows its file as a small integer
        # (parsed from the name) and file, type and line come from constant lists (connection variables,
        # folded into the plan as constants), with no join.
        ordered = sorted((s for s in self.scanned if s.line_count), key=lambda s: s.gzip_compressed)
        links = self.scratch / "by-number"
        links.mkdir()
        base = 0
        for file_no, scanned in enumerate(ordered):
            link = links / str(file_no)
            _link(link, scanned.read_path.resolve())
            con.execute(
                "insert into _files values (?, ?, ?, ?, ?, ?)",
                [file_no, str(link), scanned.file.name, scanned.file.resource_type, base, scanned.line_count],
            )
            base += scanned.line_count
        for variable, column in _FILE_LISTS.items():
            con.execute(f"set variable {variable} = (select list({column} order by file_id) from _files)")
        self.groups: list[tuple[list[Path], bool, int, int, int | None]] = []
        first = 0
        for compressed in (False, True):
            group = [(links / str(no), s) for no, s in enumerate(ordered) if s.gzip_compressed == compressed]
            if group:
                longest = self._stage_files([link for link, _ in group], compressed, [s for _, s in group])
                for chunk in _chunks_for_threads(group, self._threads()):
                    rows = sum(s.line_count for _, s in chunk)
                    self.groups.append(([link for link, _ in chunk], compressed, first, first + rows, longest))
                    first += rows
        self._check_staged_rows()
        # A line whose resourceType is not its file's type is not a resource of this file. (An update in
        # place: the row ids, which give the line numbers, stay as they are; few or no rows change.)
        con.execute(
            "update _stage s set id = null from _files f"
            " where s.file_no = f.file_id and s.id is not null and s.rtype is distinct from f.resource_type"
        )
        # File, type and line number are derived from the row id when needed, on the few rows that need
        # them, rather than rewriting the whole staging table.
        con.execute(
            "create or replace temp view _staged as"
            " select s.rowid as srow, f.file, f.resource_type as file_type, s.rowid - f.row_base + 1 as line,"
            " s.id, s.blank, s.duplicate from _stage s join _files f on s.file_no = f.file_id"
        )

    def _stage_files(self, links: list[Path], compressed: bool, scanned: list[ScannedFile]) -> int | None:
        """Stage one group of files; returns the longest line when DuckDB's line-size limit had to be raised."""
        insert = """
            insert into _stage
            select {file_no}, x[1], case when x[2] <> '' then x[2] end, hash(line), strlen(line),
                   case when x is null then coalesce(trim(line, ' \t') = '', true) else false end, false, false
            from (select filename, line, try(json_extract_string(line, ['$.resourceType', '$.id'])) as x
                  from {reader})
        """
        file_no = _FILE_NO.format(name="filename")
        try:
            self.con.execute(insert.format(file_no=file_no, reader=_line_reader(links, compressed)))
            return None
        except duckdb.InvalidInputException as error:
            if "maximum line size" not in str(error).lower():
                raise
            # Rare (e.g. an inline base64 attachment): measure the longest line and read again.
            longest = max(longest_line(s.read_path) for s in scanned)
            self.con.execute(insert.format(file_no=file_no, reader=_line_reader(links, compressed, longest)))
            return longest

    def _with_text(self, where: str) -> str:
        """Staged rows matching ``where`` (over ``_stage`` columns and ``srow``) with their line as ``text``.

        Each row also gets its ``file``, ``file_type`` and ``line``. The files are read again in staging
        order and paired with ``_stage`` by position; a row whose file, hash or length differs from what
        was staged stops the statement (it would mean the two reads disagree, and no text may be stored
        under the wrong key). Each chunk of files is its own positional scan, which is single-threaded:
        the chunks run in parallel.
        """
        mismatch = (
            "error('re-reading ' || getvariable('epic_load_file_names')[s.file_no + 1]"
            " || ' did not match its staged lines')"
        )
        parts = []
        for links, compressed, first, end, longest in self.groups:
            parts.append(
                f"""
                select s.*, {_LOCATED},
                       if({_FILE_NO.format(name="r.filename")} = s.file_no and hash(r.line) = s.hash
                          and strlen(r.line) is not distinct from s.length,
                          r.line, {mismatch}) as text
                from {_line_reader(links, compressed, longest)} r
                positional join (select rowid as srow, * from _stage where rowid >= {first} and rowid < {end}) s
                where {where}
                """
            )
        if parts:
            return " union all ".join(parts)
        return (
            f"select s.*, {_LOCATED}, null::varchar as text from (select rowid as srow, * from _stage) s where {where}"
        )

    def _threads(self) -> int:
        return max(1, int(self.con.execute("select current_setting('threads')").fetchall()[0][0]))

    def _check_staged_rows(self) -> None:
        """Each file's lines must sit at row ids base..base+count-1, or line numbers would be wrong."""
        wrong = self.con.execute(
            """
            select f.file, f.line_count, coalesce(s.n, 0)
            from _files f left join (
                select file_no, count(*) as n, min(rowid) as first, max(rowid) as last from _stage group by file_no
            ) s on s.file_no = f.file_id
            where s.n is distinct from f.line_count or s.first <> f.row_base or s.last <> f.row_base + f.line_count - 1
            """
        ).fetchall()
        if wrong:
            file, expected, got = wrong[0]
            raise EpicAssetsError(
                f"{file}: DuckDB read {got} lines in an unexpected order or count (expected {expected})"
            )

    def _classify(self) -> None:
        """Lines that are neither resources nor blank go to ``_bad`` with a reason."""
        con = self.con
        con.execute(
            "create or replace temp table _bad (file varchar, line bigint, file_type varchar, reason varchar,"
            " detail varchar, text varchar)"
        )
        if not con.execute("select count(*) from _stage where id is null and not blank").fetchall()[0][0]:
            return
        con.execute(
            f"""
            insert into _bad
            select file, line, file_type, reason, case reason
                when 'not_json' then 'not valid JSON'
                when 'not_object' then 'a JSON ' || lower(json_type(text)) || ', not an object'
                when 'no_resource_type' then 'has no resourceType (or it is not a string)'
                when 'wrong_type' then 'resourceType ' || (text -> '$.resourceType') || ' in a file of ' || file_type
                else 'has no id' end, text
            from (
                select file, line, file_type, text, case
                    when not json_valid(text) then 'not_json'
                    when json_type(text) <> 'OBJECT' then 'not_object'
                    when coalesce(json_type(text, '$.resourceType'), 'NULL') <> 'VARCHAR' then 'no_resource_type'
                    when text ->> '$.resourceType' <> file_type then 'wrong_type'
                    else 'no_id' end as reason
                from ({self._with_text("s.id is null and not s.blank")})
            )
            """
        )

    def _mark_duplicates(self) -> None:
        """Last occurrence wins; earlier copies are flagged and go to ``_bad`` naming the winner."""
        con = self.con
        con.execute(
            """
            create or replace temp table _dups as
            select rtype as resource_type, id, max(rowid) as keep from _stage where id is not null
            group by rtype, id having count(*) > 1
            """
        )
        if not con.execute("select count(*) from _dups").fetchall()[0][0]:
            return
        con.execute(
            "update _stage s set duplicate = true from _dups d"
            " where s.rtype = d.resource_type and s.id = d.id and s.rowid <> d.keep"
        )
        con.execute(
            f"""
            insert into _bad
            select t.file, t.line, t.file_type, 'duplicate_id',
                   'duplicate id ' || t.id || ': superseded by ' || w.file || ' line ' || w.line
                   || ' (the last occurrence wins)', t.text
            from ({self._with_text("s.duplicate")}) t
            join _dups d on d.resource_type = t.file_type and d.id = t.id
            join _staged w on w.srow = d.keep
            """
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

    def _record_messages(self) -> dict[str, int]:
        """Store each issue of the ``error[]`` OperationOutcomes; returns the count per severity."""
        rows = [
            [self.export_id, self.source, name, line, severity, code, message, text]
            for name, line, severity, code, message, text in read_operation_outcomes(self.export.error_files)
        ]
        if rows:
            self.con.executemany("insert into raw_export_messages values (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        counts: dict[str, int] = {}
        for row in rows:
            counts[row[4] or "unknown"] = counts.get(row[4] or "unknown", 0) + 1
        return counts

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
        """``_diff``: one row per resource that is new, changed, unchanged or gone (no texts involved)."""
        con = self.con
        current = (
            "select resource_type, id, content_hash, content_length from raw_resource_versions"
            " where source = $source and superseded_by is null and resource_type in (select unnest($scope))"
        )
        staged = (
            "select rowid as srow, rtype as resource_type, id, hash, length from _stage"
            " where id is not null and not duplicate"
        )
        change = (
            "case when c.id is null then 'inserted' when v.id is null then 'deleted'"
            " when v.hash = c.content_hash and v.length = c.content_length then 'unchanged' else 'updated' end"
        )
        join = "full outer join" if self.mode == "snapshot" else "left join"
        con.execute(
            f"""
            create or replace temp table _diff as
            select coalesce(v.resource_type, c.resource_type) as resource_type, coalesce(v.id, c.id) as id,
                   v.srow, v.hash as content_hash, c.content_hash as previous_hash, {change} as change
            from ({staged}) v {join} ({current}) c on v.resource_type = c.resource_type and v.id = c.id
            """,
            {"source": self.source, "scope": scope},
        )
        if self.mode == "incremental":
            self._diff_deletions(current)

    def _diff_deletions(self, current: str) -> None:
        deletions = sorted(set(read_deleted_bundles(self.export.deleted_files)))
        if not deletions:
            return
        self.con.execute("create or replace temp table _deleted (resource_type varchar, id varchar)")
        self.con.executemany("insert into _deleted values (?, ?)", [list(d) for d in deletions])
        self.con.execute(
            f"""
            insert into _diff
            select d.resource_type, d.id, null, null, c.content_hash, 'deleted'
            from _deleted d join ({current}) c on c.resource_type = d.resource_type and c.id = d.id
            where not exists (select 1 from _diff v where v.resource_type = d.resource_type and v.id = d.id)
            """,
            {"source": self.source, "scope": sorted({t for t, _ in deletions})},
        )

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
        written, valid = con.execute(
            "select (select count(*) from _diff where change in ('inserted', 'updated')),"
            " (select count(*) from _stage where id is not null and not duplicate)"
        ).fetchall()[0]
        # A first load writes every staged resource; otherwise the rows to write are flagged in place.
        wanted = "s.id is not null and not s.duplicate"
        if written != valid:
            con.execute(
                "update _stage set store = true"
                " where rowid in (select srow from _diff where change in ('inserted', 'updated'))"
            )
            wanted = "s.store"
        if written:
            self._store_texts(wanted)
        with session_settings(con, preserve_insertion_order="false"):
            con.execute(
                f"""
                insert into raw_changes
                select {self.export_id}, ?, resource_type, id, change, content_hash, previous_hash
                from _diff where change <> 'unchanged'
                """,
                [self.source],
            )

    def _store_texts(self, wanted: str) -> None:
        """Write the texts of the staged lines matching ``wanted`` into ``raw_resource_versions``.

        The files are read again by parallel scans, and each line finds its staged row by file number,
        hash and length. That key is unique within a file once the ids occurring more than once in the
        export are set aside (identical lines are duplicates of one id); those few are paired by position
        through :meth:`_with_text` instead. The staged rows are the join's build side and the texts only
        stream past, so memory stays small. Every wanted line must be found exactly once, or a file
        changed under the load.
        """
        con = self.con
        duplicated = "exists (select 1 from _dups d where d.resource_type = s.rtype and d.id = s.id)"
        reads = []
        for compressed in (False, True):
            groups = [group for group in self.groups if group[1] == compressed]
            if groups:
                reader = _line_reader([link for group in groups for link in group[0]], compressed, groups[0][4])
                reads.append(
                    f"select {_FILE_NO.format(name='filename')} as file_no, hash(line) as hash,"
                    f" strlen(line) as length, line as text from {reader}"
                )
        inserted = 0
        if reads:
            # The optimizer would put the texts on the build side (it cannot estimate the files' rows) and
            # keep them in order; neither is needed, so the written join order and any row order are kept.
            with session_settings(
                con, preserve_insertion_order="false", disabled_optimizers="'join_order,build_side_probe_side'"
            ):
                matched = f"""
                    select s.*, {_LOCATED}, r.text
                    from ({" union all ".join(reads)}) r
                    join (select rowid as srow, file_no, rtype, id, hash, length from _stage s
                          where {wanted} and not {duplicated}) s
                      on r.file_no = s.file_no and r.hash = s.hash and r.length = s.length
                """
                inserted += self._store(matched)
        if con.execute(f"select count(*) from _stage s where {wanted} and {duplicated}").fetchall()[0][0]:
            inserted += self._store(self._with_text(f"{wanted} and {duplicated}"))
        expected = con.execute(f"select count(*) from _stage s where {wanted}").fetchall()[0][0]
        if inserted != expected:
            raise EpicAssetsError(
                f"re-reading the export matched {inserted} of its {expected} staged resources:"
                " a file changed while it was being loaded"
            )

    def _store(self, rows: str) -> int:
        """Insert ``rows`` (staged columns plus ``file``, ``line`` and ``text``) as new versions; returns how many."""
        return int(
            self.con.execute(
                f"""
                insert into raw_resource_versions
                select ?, t.rtype, t.id, t.hash, t.length, t.text, {self.export_id}, t.file, t.line, null
                from ({rows}) t
                """,
                [self.source],
            ).fetchall()[0][0]
        )

    def _record(self, scope: list[str]) -> LoadResult:
        con = self.con
        counts: dict[str, TypeCounts] = {t: TypeCounts(t) for t in scope}
        for resource_type, change, n in con.execute(
            "select resource_type, change, count(*) from _diff group by all"
        ).fetchall():
            setattr(counts.setdefault(resource_type, TypeCounts(resource_type)), change, n)
        for resource_type, duplicate, n in con.execute(
            "select resource_type, reason = 'duplicate_id', count(*) from raw_quarantine"
            " where export_id = ? group by all",
            [self.export_id],
        ).fetchall():
            entry = counts.setdefault(resource_type, TypeCounts(resource_type))
            if duplicate:
                entry.duplicates += n
            else:
                entry.quarantined += n
        for entry in counts.values():
            entry.loaded = entry.inserted + entry.updated + entry.unchanged
        lines, blank = con.execute("select count(*), count_if(blank) from _stage").fetchall()[0]
        blank -= sum(len(s.bad_lines) for s in self.scanned)  # the byte pass left those lines empty
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
        for i, deleted in enumerate(self.export.deleted_files, start=len(files)):
            data = deleted.path.read_bytes()
            files.append(
                [
                    self.export_id,
                    i,
                    deleted.name,
                    "deleted",
                    deleted.resource_type,
                    deleted.url,
                    hashlib.sha256(data).hexdigest(),
                    len(data),
                    data.count(b"\n"),
                ]
            )
        if files:
            con.executemany("insert into raw_export_files values (?, ?, ?, ?, ?, ?, ?, ?, ?)", files)
        return result


# File name, file type and line number of a staged row ``s`` (its row id as ``srow``), from the connection
# variables holding, by file number, each file's name, type and first row id.
_LOCATED = (
    "getvariable('epic_load_file_names')[s.file_no + 1] as file,"
    " getvariable('epic_load_file_types')[s.file_no + 1] as file_type,"
    " s.srow - getvariable('epic_load_row_bases')[s.file_no + 1] + 1 as line"
)
# A file's number, from the name of the link DuckDB read it through (see _Load._stage).
_FILE_NO = "cast(parse_filename({name}) as integer)"
# Connection variables holding, by file number, the file's name, type and first row id.
_FILE_LISTS = {
    "epic_load_file_names": "file",
    "epic_load_file_types": "resource_type",
    "epic_load_row_bases": "row_base",
}


def _link(link: Path, target: Path) -> None:
    """``link`` names ``target``: a symlink, else a hard link, else (a platform allowing neither) a copy."""
    try:
        link.symlink_to(target)
    except OSError:
        try:
            os.link(target, link)
        except OSError:
            shutil.copyfile(target, link)


def _chunks_for_threads(group: list[tuple[Path, ScannedFile]], threads: int) -> list[list[tuple[Path, ScannedFile]]]:
    """Consecutive runs of files with about the same number of lines, one per thread."""
    total = sum(s.line_count for _, s in group)
    target = max(1, -(-total // threads))
    chunks: list[list[tuple[Path, ScannedFile]]] = [[]]
    filled = 0
    for item in group:
        if filled >= target * len(chunks) and len(chunks) < threads:
            chunks.append([])
        chunks[-1].append(item)
        filled += item[1].line_count
    return [chunk for chunk in chunks if chunk]


def _line_reader(paths: list[Path], compressed: bool, longest_line: int | None = None) -> str:
    """``read_csv`` set up to return each physical line, untouched, as one VARCHAR ``line``, plus ``filename``."""
    options = [
        "columns={'line': 'VARCHAR'}",
        "delim=chr(0)",  # no line that reaches DuckDB holds a NUL byte (the byte pass made sure)
        "quote=''",
        "escape=''",
        "header=false",
        "auto_detect=false",
        "strict_mode=false",
        "new_line='\\n'",
        "filename=true",
        f"compression='{'gzip' if compressed else 'none'}'",
    ]
    if longest_line is not None:
        size = longest_line + 1024
        options += [f"max_line_size={size}", f"buffer_size={max(size * 2, 32 * 1024 * 1024)}"]
    listed = ", ".join(identifiers.quote_sql_literal(str(path)) for path in paths)
    return f"read_csv([{listed}], {', '.join(options)})"
