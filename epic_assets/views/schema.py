"""The minimal parse schema of one view: a tree of the FHIR elements its paths touch.

Every path the compiler translates registers the elements it navigates here. The finished tree renders
as a DuckDB type (``STRUCT(...)``/``LIST`` for ``read_json(columns=...)``) and as the equivalent
``json_transform`` structure, so both input sources parse each resource exactly once into the same typed
relation. Elements that cannot be typed statically are kept as ``JSON``: unknown elements, complex
elements that are only tested for presence, and elements walked by ``repeat`` (recursive structures).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from epic_assets.views import fhir_model

JSON_SQL_TYPE = "JSON"


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(eq=False)
class SchemaNode:
    """One element in the parse schema; ``path`` is its element path from the resource root."""

    path: tuple[str, ...]
    fhir_type: str | None  # None: not in the shipped definitions, kept as raw JSON
    many: bool
    forced_json: frozenset[tuple[str, ...]]
    children: dict[str, SchemaNode] = field(default_factory=dict)
    navigated: bool = False  # a path read a child of this node as a struct field

    @property
    def held_as_json(self) -> bool:
        """Navigated as JSON (unknown or recursive); a childless complex node is struct-like to paths."""
        return self.fhir_type in (None, "Resource") or self.path in self.forced_json

    @property
    def as_json(self) -> bool:
        """Held as raw JSON rather than a typed value."""
        if self.held_as_json:
            return True
        return not fhir_model.is_primitive(self.fhir_type) and not self.children

    def child(self, name: str, fhir_type: str | None, many: bool) -> SchemaNode:
        node = self.children.get(name)
        if node is None:
            node = SchemaNode((*self.path, name), fhir_type, many, self.forced_json)
            self.children[name] = node
        return node

    def _scalar_sql_type(self) -> str:
        if self.as_json:
            return JSON_SQL_TYPE
        if fhir_model.is_primitive(self.fhir_type):
            return fhir_model.sql_type_of_primitive(self.fhir_type or "")
        fields = ", ".join(f"{quote_identifier(k)} {c.sql_type()}" for k, c in self.children.items())
        return f"STRUCT({fields})"

    def sql_type(self) -> str:
        base = self._scalar_sql_type()
        return f"{base}[]" if self.many and self.fhir_type is not None else base

    def transform_structure(self) -> object:
        """The ``json_transform`` structure describing the same type as :meth:`sql_type`."""
        if self.as_json:
            base: object = JSON_SQL_TYPE
        elif fhir_model.is_primitive(self.fhir_type):
            base = fhir_model.sql_type_of_primitive(self.fhir_type or "")
        else:
            base = {k: c.transform_structure() for k, c in self.children.items()}
        return [base] if self.many and self.fhir_type is not None else base


def new_root(resource: str, forced_json: frozenset[tuple[str, ...]]) -> SchemaNode:
    root = SchemaNode((), resource, False, forced_json)
    # resourceType is always read: the compiled query keeps only rows of the view's resource type.
    root.child("resourceType", "string", False)
    return root
