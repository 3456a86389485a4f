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

# One resource per line; a DocumentReference with inline attachments can be large.
MAX_OBJECT_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class NdjsonSource:
    """NDJSON files (``.ndjson`` or ``.ndjson.gz``); lines of other resource types are filtered out.

    ``read_json`` splits each line into its top-level elements, kept as raw JSON, with an explicit column
    list (no sampling, no inference); ``json_transform`` then types each element with the view's schema.
    Typing per element rather than in ``read_json`` keeps a file that mixes resource types readable:
    an element that means something else in another type (``Organization.name`` is a string,
    ``Patient.name`` a list) cannot fail the read, and those rows are dropped by the resourceType filter.
    """

    paths: Sequence[str | Path]

    def relation(self, compiled: CompiledView) -> str:
        if not self.paths:
            raise ViewDefinitionError("NdjsonSource: no input files")
        files = ", ".join(quote_sql_literal(str(p)) for p in self.paths)
        raw_columns = ", ".join(
            f"{quote_sql_literal(name)}: {quote_sql_literal('VARCHAR' if name == 'resourceType' else 'JSON')}"
            for name, _ in compiled.root_fields()
        )
        projections = ", ".join(
            quote_sql_identifier(name)
            if name == "resourceType"
            else f"json_transform({quote_sql_identifier(name)}, {_structure(node.transform_structure())}) "
            f"AS {quote_sql_identifier(name)}"
            for name, node in compiled.root_fields()
        )
        return (
            f"SELECT {projections} FROM read_json([{files}], format='newline_delimited', "
            f"columns={{{raw_columns}}}, maximum_object_size={MAX_OBJECT_BYTES})"
        )


def _structure(structure: object) -> str:
    return quote_sql_literal(json.dumps(structure, separators=(",", ":")))


@dataclass(frozen=True)
class JsonTextSource:
    """A query yielding FHIR resources as JSON text in ``column`` (trusted SQL from our own layers)."""

    query: str
    column: str = "resource"

    def relation(self, compiled: CompiledView) -> str:
        structure = _structure(compiled.transform_structure())
        column = quote_sql_identifier(self.column)
        return f"SELECT unnest(json_transform({column}, {structure})) FROM ({self.query}) AS _raw"
