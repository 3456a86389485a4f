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
"""

from __future__ import annotations

import duckdb

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
    content_md5 varchar not null,       -- md5 of the stored text
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
    content_md5 varchar,
    previous_md5 varchar
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
create or replace view raw_resources as
    select source, resource_type, id, content_md5, resource, export_id, file, line
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
)


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_DDL)
