"""The raw layer's tables. Every raw table starts with ``raw_``; derived (view) tables may not.

* ``raw_resource_versions`` — every distinct content Epic sent for a resource, original JSON text byte
  for byte. ``superseded_by`` is NULL for the current version, else the export that updated or deleted it.
* ``raw_resources`` (view) — the current state: the versions with ``superseded_by IS NULL``.
* ``raw_exports`` — one row per applied export (identity, mode, totals).
* ``raw_export_files`` — the files of each export (name, type, url, SHA-256, lines).
* ``raw_export_types`` — per export and resource type: loaded/inserted/updated/unchanged/deleted/… counts.
* ``raw_changes`` — per export and resource: inserted, updated or deleted (unchanged is only counted).
* ``raw_quarantine`` — every line that was not stored as a resource, with why, where, and its bytes.
* ``raw_export_messages`` — one row per issue of the export's ``error[]`` OperationOutcomes.
* ``raw_table_builds`` — per derived table, what it was built from (so a rebuild can re-flatten only
  the resources that changed since; see :mod:`.table_state`).
* ``raw_meta`` — facts about the file itself (which hash function produced ``content_hash``).

Change detection compares ``(content_hash, content_length)``: DuckDB's 64-bit ``hash()`` of the text
plus its byte length. It costs a fraction of MD5 (which alone took longer than DuckDB's whole JSON
parse); a changed resource goes unnoticed only if both its length and its 64-bit hash are unchanged
(about 1 in 1.8e19 per change, and Epic is not an adversary trying to forge collisions). DuckDB does
not promise ``hash()`` stays the same across versions, so the file records a probe value; when the
running DuckDB hashes differently, :func:`refresh_content_hashes` recomputes the stored keys from the
stored texts before any comparison (see :mod:`.loader`), so an upgrade never turns into false updates.
"""

from __future__ import annotations

import duckdb

from epic_assets.errors import EpicAssetsError

RAW_PREFIX = "raw_"

_DDL = """
create table if not exists raw_exports (
    export_id bigint primary key,
    source varchar not null,
    mode varchar not null,              -- 'snapshot' or 'incremental'
    fingerprint varchar not null,       -- SHA-256 over mode and the files' names, types and contents
    transaction_time varchar,           -- from manifest.json, when present
    request varchar,                    -- from manifest.json, when present
    directory varchar not null,
    scope_types varchar[] not null,     -- the types this export speaks for (a snapshot replaces exactly these)
    loaded_at timestamptz not null,
    lines bigint not null,
    resources bigint not null,
    inserted bigint not null,
    updated bigint not null,
    unchanged bigint not null,
    deleted bigint not null,
    quarantined bigint not null,
    duplicates bigint not null
);
create table if not exists raw_export_files (
    export_id bigint not null,
    file_id integer not null,
    file varchar not null,
    kind varchar not null,              -- 'output' or 'deleted'
    resource_type varchar not null,
    url varchar,
    sha256 varchar not null,
    bytes bigint not null,
    lines bigint not null
);
create table if not exists raw_export_types (
    export_id bigint not null,
    source varchar not null,
    resource_type varchar not null,
    loaded bigint not null,
    inserted bigint not null,
    updated bigint not null,
    unchanged bigint not null,
    deleted bigint not null,
    quarantined bigint not null,
    duplicates bigint not null
);
create table if not exists raw_resource_versions (
    source varchar not null,
    resource_type varchar not null,
    id varchar not null,
    content_hash ubigint not null,      -- DuckDB hash() of the stored text: the change-detection key
    content_length bigint not null,     -- the text's length in bytes (second half of the key)
    resource varchar not null using compression zstd,
    export_id bigint not null,          -- the export that delivered this content
    file varchar not null,
    line bigint not null,
    superseded_by bigint                -- NULL while current
);
create table if not exists raw_changes (
    export_id bigint not null,
    source varchar not null,
    resource_type varchar not null,
    id varchar not null,
    change varchar not null,            -- 'inserted', 'updated' or 'deleted'
    content_hash ubigint,               -- raw_resource_versions.content_hash of the new version
    previous_hash ubigint               -- ... and of the version it replaced or deleted
);
create table if not exists raw_quarantine (
    export_id bigint not null,
    source varchar not null,
    file varchar not null,
    line bigint not null,
    resource_type varchar not null,     -- the type the file should hold
    reason varchar not null,            -- invalid_utf8, not_json, not_object, no_resource_type, wrong_type,
                                        -- no_id, unreadable_line, duplicate_id
    detail varchar not null,
    raw_text varchar using compression zstd,  -- the line as text (NULL when it is not valid UTF-8)
    raw_bytes blob                      -- the line's bytes, only when it is not valid UTF-8
);
create table if not exists raw_export_messages (
    export_id bigint not null,
    source varchar not null,
    file varchar not null,
    line bigint not null,
    severity varchar,                   -- OperationOutcome.issue.severity: fatal, error, warning, information
    code varchar,                       -- issue.code, then Epic's own code from issue.details, e.g. '59204'
    message varchar,                    -- issue.details.text or issue.diagnostics
    raw_text varchar not null           -- the whole OperationOutcome line as sent
);
create table if not exists raw_table_builds (
    table_name varchar primary key,     -- a derived table
    resource_type varchar not null,
    definition varchar not null,        -- fingerprint of the compiled view (see table_state.py)
    sources varchar[] not null,         -- the sources it was built from
    through_export_id bigint not null,  -- the last export whose changes it includes
    built_at timestamptz not null
);
create table if not exists raw_meta (
    key varchar primary key,
    value varchar not null
);
create or replace view raw_resources as
    select source, resource_type, id, content_hash, content_length, resource, export_id, file, line
    from raw_resource_versions where superseded_by is null;
"""

RAW_TABLES = (
    "raw_exports",
    "raw_export_files",
    "raw_export_types",
    "raw_resource_versions",
    "raw_resources",
    "raw_changes",
    "raw_quarantine",
    "raw_export_messages",
    "raw_table_builds",
    "raw_meta",
)


_OLD_LAYOUT = (
    "select count(*) from information_schema.columns"
    " where table_name = 'raw_resource_versions' and column_name = 'content_md5'"
)
_HASH_PROBE_KEY = "content_hash_probe"
_HASH_PROBE = "select hash('epic-assets content hash probe')::varchar"


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    if con.execute(_OLD_LAYOUT).fetchall()[0][0]:
        raise EpicAssetsError(
            "this warehouse file was created by an older epic-assets that keyed changes by MD5;"
            " load the exports into a new file (the raw layer is rebuilt from the downloaded exports)"
        )
    con.execute(_DDL)


def refresh_content_hashes(con: duckdb.DuckDBPyConnection) -> bool:
    """Recompute ``content_hash`` everywhere when this DuckDB's ``hash()`` differs from the one that wrote them.

    Runs inside the load's transaction, before the comparison. Returns whether anything was recomputed.
    """
    probe = con.execute(_HASH_PROBE).fetchall()[0][0]
    stored = con.execute("select value from raw_meta where key = ?", [_HASH_PROBE_KEY]).fetchall()
    if stored and stored[0][0] == probe:
        return False
    if stored:
        con.execute("update raw_resource_versions set content_hash = hash(resource)")
        # raw_changes carries copies of the keys: the version an export wrote, and the one it superseded.
        con.execute(
            """
            update raw_changes c set content_hash = v.content_hash
            from raw_resource_versions v
            where v.source = c.source and v.resource_type = c.resource_type and v.id = c.id
              and v.export_id = c.export_id and c.content_hash is not null
            """
        )
        con.execute(
            """
            update raw_changes c set previous_hash = v.content_hash
            from raw_resource_versions v
            where v.source = c.source and v.resource_type = c.resource_type and v.id = c.id
              and v.superseded_by = c.export_id and c.previous_hash is not null
            """
        )
    con.execute("insert or replace into raw_meta values (?, ?)", [_HASH_PROBE_KEY, probe])
    return bool(stored)
