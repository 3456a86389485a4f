"""FHIR R4 element definitions (shipped as ``fhir_r4_elements.json``) and the DuckDB types they map to.

The compiler asks two questions of this module: what is the type and cardinality of ``Type.element``
(following the base-type chain, so ``Patient.id`` and ``HumanName.extension`` resolve), and which
concrete element names a choice element such as ``Observation.value[x]`` expands to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

_DATA = Path(__file__).with_name("fhir_r4_elements.json")

# How FHIR primitives are held after parsing. Dates and times stay text: FHIR allows partial values
# ('2020', '2020-05') that no SQL temporal type can hold; typed companions come from the ansi/type tag.
PRIMITIVE_SQL_TYPES: dict[str, str] = {
    "boolean": "BOOLEAN",
    "integer": "BIGINT",
    "positiveInt": "BIGINT",
    "unsignedInt": "BIGINT",
    "integer64": "BIGINT",
    "decimal": "DOUBLE",
}
TEXT_SQL_TYPE = "VARCHAR"


@dataclass(frozen=True)
class ElementDef:
    """One element of a FHIR type: its possible types (several for a choice) and whether it repeats."""

    name: str
    types: tuple[str, ...]
    many: bool

    @property
    def is_choice(self) -> bool:
        return len(self.types) > 1 or self.name.endswith("[x]")


@cache
def _load() -> tuple[frozenset[str], dict[str, dict[str, object]]]:
    raw = json.loads(_DATA.read_text(encoding="utf-8"))
    return frozenset(raw["primitives"]), raw["types"]


def is_primitive(type_name: str | None) -> bool:
    return type_name is not None and (type_name in _load()[0] or type_name in {"System.String", "integer64"})


def is_known_type(type_name: str) -> bool:
    primitives, types = _load()
    return type_name in primitives or type_name in types


def sql_type_of_primitive(type_name: str) -> str:
    return PRIMITIVE_SQL_TYPES.get(type_name, TEXT_SQL_TYPE)


@cache
def element(type_name: str, name: str) -> ElementDef | None:
    """The definition of ``type_name.name`` (a choice element is found by its stem, ``value``)."""
    _, types = _load()
    current: str | None = type_name
    while current is not None and current in types:
        entry = types[current]
        elements: dict[str, str] = entry["elements"]  # type: ignore[assignment]
        spec = elements.get(name)
        key = name
        if spec is None and f"{name}[x]" in elements:
            key = f"{name}[x]"
            spec = elements[key]
        if spec is not None:
            many = spec.endswith("*")
            return ElementDef(key, tuple(spec.rstrip("*").split("|")), many)
        current = entry["base"]  # type: ignore[assignment]
    if type_name not in types and is_primitive(type_name) and name in {"id", "extension"}:
        return None  # primitive extensions live in '_element' siblings; not modelled
    return None


def choice_element_name(stem: str, type_name: str) -> str:
    """``value`` + ``Quantity`` -> ``valueQuantity``; ``value`` + ``string`` -> ``valueString``."""
    return stem + type_name[:1].upper() + type_name[1:]


def normalise_type_name(name: str) -> str:
    """Strip a ``FHIR.`` / ``System.`` namespace; map System types onto their FHIR equivalents."""
    if "." in name:
        namespace, _, rest = name.partition(".")
        if namespace == "System":
            return {
                "String": "string",
                "Boolean": "boolean",
                "Integer": "integer",
                "Decimal": "decimal",
                "Date": "date",
                "DateTime": "dateTime",
                "Time": "time",
            }.get(rest, rest)
        if namespace == "FHIR":
            return rest
    return name
