"""Input sources: where a compiled view reads FHIR resources from.

Both produce the same relation — one row per resource, one typed column per top-level element of the
view's minimal schema — so the compiled view body is identical whichever is used:

* :class:`NdjsonSource` reads NDJSON files (optionally gzip-compressed) with ``read_json`` and an
  explicit ``columns`` schema, so DuckDB parses each line once, straight into typed values, and never
  infers a schema from a sample.
* :class:`JsonTextSource` transforms JSON text already in DuckDB (for example the warehouse's raw table)
  with ``json_transform`` and the equivalent structure.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from epic_assets.identifiers import quote_sql_identifier, quote_sql_literal
from epic_assets.views.errors import ViewDefinitionError

if TYPE_CHECKING:
    from epic_assets.views.compiler import CompiledView

# One resource per line; a DocumentReference with inline attachments can be large. DuckDB sizes its read
# buffers from this limit: at 256 MiB a 700 MiB file was parsed in two or three buffers, which cost ~25%
# more CPU and most of the parallel split (measured on 1M Observations); 64 MiB parses as fast as the
# 16 MiB default while still admitting ~48 MiB base64 attachments.
MAX_OBJECT_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class NdjsonSource:
    """NDJSON files (``.ndjson`` or ``.ndjson.gz``); lines of other resource types are filtered out.

    ``read_json`` parses each line once, straight into the view's typed columns (explicit ``columns``:
    no sampling, no inference). ``ignore_errors`` makes an element whose JSON shape does not fit the
    schema NULL instead of failing the whole read — the same rule ``json_transform`` applies for
    :class:`JsonTextSource` — which is what lets a file mix resource types (``Organization.name`` is a
    string where ``Patient.name`` is a list). A line that is not a JSON object with a resourceType
    (malformed JSON) still fails the query, naming the file, so nothing is dropped silently.
    """

    paths: Sequence[str | Path]

    def relation(self, compiled: CompiledView) -> str:
        if not self.paths:
            raise ViewDefinitionError("NdjsonSource: no input files")
        files = ", ".join(quote_sql_literal(str(p)) for p in self.paths)
        columns = ", ".join(quote_sql_identifier(name) for name, _ in compiled.root_fields())
        unreadable = "'NDJSON line without a resourceType (malformed JSON?) in ' || filename"
        return (
            f"SELECT {columns} FROM read_json([{files}], format='newline_delimited', "
            f"columns={compiled.read_json_columns()}, maximum_object_size={MAX_OBJECT_BYTES}, "
            f"ignore_errors=true, filename=true) "
            f"WHERE CASE WHEN {quote_sql_identifier('resourceType')} IS NULL THEN error({unreadable}) ELSE true END"
        )


def _structure(structure: object) -> str:
    return quote_sql_literal(json.dumps(structure, separators=(",", ":")))


@dataclass(frozen=True)
class JsonTextSource:
    """A query yielding FHIR resources as JSON text in ``column`` (trusted SQL from our own layers).

    ``resource_type_column`` names a column of ``query`` that already holds each resource's
    ``resourceType`` exactly as the JSON does (the warehouse's raw layer validates this at load): the
    relation then takes ``resourceType`` from it instead of from the parsed JSON, so the view's type
    filter is a plain column comparison.

    The parsed struct passes through a one-item ``unnest`` before its fields become columns whenever
    the view filters on parsed elements (its resource type without ``resource_type_column``, or
    ``where`` paths). Without it DuckDB pushes such a filter below the projection by inlining
    ``json_transform(...)`` into it, which parses every resource twice: measured over 1M
    Observations, that doubled the text parse (~2 CPU s of a ~6 s view). A filter is never pushed
    through an ``UNNEST`` operator on the columns it produces. The detour copies the parsed struct
    (~0.4 CPU s per 1M Observations), so a view with nothing to push down goes without it.
    """

    query: str
    column: str = "resource"
    resource_type_column: str | None = None

    def relation(self, compiled: CompiledView) -> str:
        structure = compiled.transform_structure()
        inner = outer = ""
        if self.resource_type_column is not None:
            structure = {k: v for k, v in structure.items() if k != "resourceType"}
            type_column = quote_sql_identifier(self.resource_type_column)
            inner, outer = f"{type_column}, ", f"{type_column} AS {quote_sql_identifier('resourceType')}, "
        parsed = f"json_transform({quote_sql_identifier(self.column)}, {_structure(structure)})"
        if self.resource_type_column is not None and not compiled.filtered:
            return f"SELECT {outer}unnest({parsed}) FROM ({self.query}) AS _raw"
        rows = f"(SELECT {inner}unnest([{parsed}]) AS _parsed FROM ({self.query}) AS _raw) AS _parsed_rows"
        return f"SELECT {outer}unnest(_parsed) FROM {rows}"
