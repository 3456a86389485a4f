"""The shipped table library: one SQL on FHIR v2 ViewDefinition JSON file per warehouse table.

Each file ``<name>.json`` defines the table ``<name>`` (the view's ``name`` equals the file stem).
Column conventions are documented in this folder's README.md. Views are plain data: compile them with
``epic_assets.views.compile_view`` after loading them here, optionally overriding view constants such as
``mrn_system`` (the site-specific OID of the identifier that is the MRN).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from epic_assets import identifiers
from epic_assets.errors import EpicAssetsError

LIBRARY_DIR = Path(__file__).resolve().parent

# The value[x] key a constant of each Python type is written under.
_CONSTANT_VALUE_KEYS: dict[type, str] = {str: "valueString", bool: "valueBoolean", int: "valueInteger"}


class UnknownLibraryViewError(EpicAssetsError):
    """A table name that the library does not ship."""


class UnknownViewConstantError(EpicAssetsError):
    """An override names a constant the view does not declare (a typo would otherwise be ignored)."""


def view_names() -> list[str]:
    """Names of every shipped table, sorted."""
    return sorted(path.stem for path in LIBRARY_DIR.glob("*.json"))


def view_path(name: str) -> Path:
    """The JSON file of the shipped view ``name``."""
    identifiers.sql_name(name, where="library view name")
    path = LIBRARY_DIR / f"{name}.json"
    if not path.is_file():
        raise UnknownLibraryViewError(f"no shipped view named {name!r}; available: {', '.join(view_names())}")
    return path


def load_view_json(name: str, constants: Mapping[str, str | bool | int] | None = None) -> dict[str, Any]:
    """The ViewDefinition of ``name`` as a dict, with the given constants' values replaced.

    Overriding is how a site configures a view without editing the shipped file, e.g.
    ``load_view_json("patient", {"mrn_system": "urn:oid:1.2.840.114350.1.13.861.1.7.5.737384.14"})``.
    """
    view = json.loads(view_path(name).read_text(encoding="utf-8"))
    return override_constants(view, constants or {})


def override_constants(view: Mapping[str, Any], constants: Mapping[str, str | bool | int]) -> dict[str, Any]:
    """A copy of ``view`` whose declared constants take the values in ``constants``."""
    result = copy.deepcopy(dict(view))
    declared = {entry["name"]: entry for entry in result.get("constant", [])}
    for constant_name, value in constants.items():
        entry = declared.get(constant_name)
        if entry is None:
            available = ", ".join(sorted(declared)) or "none"
            raise UnknownViewConstantError(
                f"view {result.get('name')!r} has no constant {constant_name!r} (declared: {available})"
            )
        value_key = _CONSTANT_VALUE_KEYS.get(type(value))
        if value_key is None:
            raise UnknownViewConstantError(
                f"constant {constant_name!r} of view {result.get('name')!r}: unsupported value type "
                f"{type(value).__name__} (use str, bool or int)"
            )
        for key in [k for k in entry if k.startswith("value")]:
            del entry[key]
        entry[value_key] = value
    return result


def load_all(constants: Mapping[str, str | bool | int] | None = None) -> dict[str, dict[str, Any]]:
    """Every shipped view by name; each constant override applies to the views that declare it."""
    overrides = dict(constants or {})
    unused = set(overrides)
    views: dict[str, dict[str, Any]] = {}
    for name in view_names():
        view = load_view_json(name)
        declared = {entry["name"] for entry in view.get("constant", [])}
        mine = {key: value for key, value in overrides.items() if key in declared}
        unused -= set(mine)
        views[name] = override_constants(view, mine)
    if unused:
        raise UnknownViewConstantError(f"no shipped view declares the constant(s) {', '.join(sorted(unused))}")
    return views
