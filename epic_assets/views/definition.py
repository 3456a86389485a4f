"""Loading and structurally validating a ViewDefinition (SQL on FHIR v2).

Both shapes are accepted: the 2.0 logical model (``{"resource": ..., "select": [...]}``) and the FHIR
resource form (``"resourceType": "ViewDefinition"`` with the same elements plus metadata). FHIRPath and
column typing are checked by the compiler; this module checks the shape, naming the offending element.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from epic_assets import identifiers
from epic_assets.views.errors import ViewDefinitionError

_COLUMN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}")
_CONSTANT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_SELECT_KEYS = {
    "column",
    "select",
    "forEach",
    "forEachOrNull",
    "repeat",
    "unionAll",
    "description",
    "id",
    "extension",
    "modifierExtension",
}
_COLUMN_KEYS = {"name", "path", "type", "collection", "description", "tag", "id", "extension", "modifierExtension"}
_WHERE_KEYS = {"path", "description", "id", "extension"}


@dataclass(frozen=True)
class Constant:
    name: str
    fhir_type: str  # from the value[x] key: valueString -> 'string'
    value: object


@dataclass(frozen=True)
class ViewDefinition:
    """A validated view; ``select`` and ``where`` keep the original JSON elements for the compiler."""

    resource: str
    name: str | None
    constants: tuple[Constant, ...]
    select: tuple[Mapping[str, Any], ...]
    where: tuple[str, ...]
    raw: Mapping[str, Any]
    origin: str | None = None


def _fail(where: str, message: str) -> ViewDefinitionError:
    return ViewDefinitionError(f"{where}: {message}")


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(where, f"expected a list, got {type(value).__name__}")
    return value


def _object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, f"expected an object, got {type(value).__name__}")
    return value


def _check_keys(element: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(k for k in element if k not in allowed and not k.startswith("_"))
    if unknown:
        raise _fail(where, f"unknown element(s) {', '.join(unknown)}")


def _string(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, "expected a non-empty string")
    return value


def _validate_column(column: object, where: str) -> None:
    column = _object(column, where)
    _check_keys(column, _COLUMN_KEYS, where)
    name = column.get("name")
    if not isinstance(name, str) or not _COLUMN_NAME.fullmatch(name):
        raise _fail(f"{where}.name", f"invalid column name {name!r}: letters, digits and '_', starting with a letter")
    _string(column.get("path"), f"{where}.path")
    if "type" in column:
        _string(column["type"], f"{where}.type")
    if "collection" in column and not isinstance(column["collection"], bool):
        raise _fail(f"{where}.collection", "expected true or false")
    for k, tag in enumerate(_list(column.get("tag", []), f"{where}.tag")):
        tag = _object(tag, f"{where}.tag[{k}]")
        _string(tag.get("name"), f"{where}.tag[{k}].name")
        _string(tag.get("value"), f"{where}.tag[{k}].value")


def _validate_select(select: object, where: str) -> None:
    select = _object(select, where)
    _check_keys(select, _SELECT_KEYS, where)
    iterations = [k for k in ("forEach", "forEachOrNull", "repeat") if k in select]
    if len(iterations) > 1:
        raise _fail(where, f"only one of forEach, forEachOrNull and repeat may be given (found {iterations})")
    for key in ("forEach", "forEachOrNull"):
        if key in select:
            _string(select[key], f"{where}.{key}")
    if "repeat" in select:
        paths = _list(select["repeat"], f"{where}.repeat")
        if not paths:
            raise _fail(f"{where}.repeat", "expected at least one path")
        for k, path in enumerate(paths):
            _string(path, f"{where}.repeat[{k}]")
    if not any(k in select for k in ("column", "select", "unionAll")):
        raise _fail(where, "expected at least one of column, select or unionAll")
    for k, column in enumerate(_list(select.get("column", []), f"{where}.column")):
        _validate_column(column, f"{where}.column[{k}]")
    for k, nested in enumerate(_list(select.get("select", []), f"{where}.select")):
        _validate_select(nested, f"{where}.select[{k}]")
    branches = _list(select.get("unionAll", []), f"{where}.unionAll")
    if "unionAll" in select and not branches:
        raise _fail(f"{where}.unionAll", "expected at least one branch")
    for k, branch in enumerate(branches):
        _validate_select(branch, f"{where}.unionAll[{k}]")


def _constant(element: object, where: str) -> Constant:
    element = _object(element, where)
    name = element.get("name")
    if not isinstance(name, str) or not _CONSTANT_NAME.fullmatch(name):
        raise _fail(f"{where}.name", f"invalid constant name {name!r}")
    values = [k for k in element if k.startswith("value") and len(k) > 5]
    if len(values) != 1:
        raise _fail(where, f"constant '{name}' needs exactly one value[x] element (found {len(values)})")
    key = values[0]
    fhir_type = key[5].lower() + key[6:]
    value = element[key]
    if isinstance(value, (dict, list)) or value is None:
        raise _fail(f"{where}.{key}", "expected a primitive value")
    return Constant(name, fhir_type, value)


def parse_view(data: object, origin: str | None = None) -> ViewDefinition:
    """Validate a ViewDefinition already parsed from JSON."""
    where = "ViewDefinition"
    view = _object(data, where)
    if "resourceType" in view and view["resourceType"] != "ViewDefinition":
        raise _fail("resourceType", f"expected 'ViewDefinition', got {view['resourceType']!r}")
    resource = view.get("resource")
    if resource is None:
        raise _fail("resource", "missing: the FHIR resource type the view flattens")
    try:
        identifiers.resource_type(resource, where="resource")
    except identifiers.InvalidIdentifierError as error:
        raise _fail("resource", str(error)) from None
    name = view.get("name")
    if name is not None and (not isinstance(name, str) or not _COLUMN_NAME.fullmatch(name)):
        raise _fail("name", f"invalid view name {name!r}: letters, digits and '_', starting with a letter")
    constants = tuple(_constant(c, f"constant[{k}]") for k, c in enumerate(_list(view.get("constant", []), "constant")))
    seen: set[str] = set()
    for constant in constants:
        if constant.name in seen:
            raise _fail("constant", f"constant '{constant.name}' is defined twice")
        seen.add(constant.name)
    if "select" not in view:
        raise _fail("select", "missing: a view needs at least one select")
    selects = _list(view["select"], "select")
    if not selects:
        raise _fail("select", "expected at least one select")
    for k, select in enumerate(selects):
        _validate_select(select, f"select[{k}]")
    wheres: list[str] = []
    for k, element in enumerate(_list(view.get("where", []), "where")):
        element = _object(element, f"where[{k}]")
        _check_keys(element, _WHERE_KEYS, f"where[{k}]")
        wheres.append(_string(element.get("path"), f"where[{k}].path"))
    return ViewDefinition(resource, name, constants, tuple(selects), tuple(wheres), view, origin)


def read_view_file(path: Path) -> tuple[dict[str, Any], ViewDefinition]:
    """The JSON of a view file and its validated definition; every error names the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ViewDefinitionError(f"{path}: cannot read view: {error.strerror or error}") from None
    except json.JSONDecodeError as error:
        raise ViewDefinitionError(f"{path}: line {error.lineno}: invalid JSON: {error.msg}") from None
    try:
        return data, parse_view(data, origin=str(path))
    except ViewDefinitionError as error:
        raise ViewDefinitionError(f"{path}: {error}") from None


def load_view(source: str | Path | Mapping[str, Any] | ViewDefinition) -> ViewDefinition:
    """Load a ViewDefinition from a JSON file path or an already parsed mapping, and validate it."""
    if isinstance(source, ViewDefinition):
        return source
    if isinstance(source, Mapping):
        return parse_view(dict(source))
    return read_view_file(Path(source))[1]
