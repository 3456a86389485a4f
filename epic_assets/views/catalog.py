"""Which views exist: the shipped table library merged with a user's own folder (``EPIC_VIEWS_DIR``).

A user view whose name equals a shipped one replaces it, which is how a site adapts a table without
forking the library. Every name is checked as a SQL table name; an unreadable or invalid user view is
an error naming its file, never skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from epic_assets import identifiers
from epic_assets.views.definition import read_view_file
from epic_assets.views.errors import ViewDefinitionError
from epic_assets.views.library import LIBRARY_DIR, override_constants


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    resource: str
    origin: str  # "shipped" or "user"
    path: Path
    view: dict[str, Any]


def _read(path: Path, origin: str) -> CatalogEntry:
    data, definition = read_view_file(path)
    name = definition.name or path.name.removesuffix(".json")
    try:
        identifiers.sql_name(name, where=str(path))
    except identifiers.InvalidIdentifierError as error:
        raise ViewDefinitionError(str(error)) from None
    return CatalogEntry(name, definition.resource, origin, path, data)


def _folder(folder: Path, origin: str) -> dict[str, CatalogEntry]:
    entries: dict[str, CatalogEntry] = {}
    for path in sorted(folder.glob("*.json")):
        entry = _read(path, origin)
        if entry.name in entries:
            raise ViewDefinitionError(f"{path}: view name '{entry.name}' is also used by {entries[entry.name].path}")
        entries[entry.name] = entry
    return entries


def _with_constants(entry: CatalogEntry, constants: Mapping[str, str]) -> CatalogEntry:
    declared = {constant["name"] for constant in entry.view.get("constant", [])}
    relevant = {name: value for name, value in constants.items() if name in declared}
    return replace(entry, view=override_constants(entry.view, relevant)) if relevant else entry


def catalog(views_dir: Path | None, constants: Mapping[str, str] | None = None) -> dict[str, CatalogEntry]:
    """Shipped views overlaid by the user's, keyed and sorted by name.

    ``constants`` (e.g. ``{"mrn_system": ...}`` from ``EPIC_MRN_SYSTEM``) replace the values of the
    constants of those names in every view that declares them.
    """
    entries = _folder(LIBRARY_DIR, "shipped")
    if views_dir is not None:
        if not views_dir.is_dir():
            raise ViewDefinitionError(f"{views_dir}: views folder does not exist")
        entries.update(_folder(views_dir, "user"))
    return {name: _with_constants(entries[name], constants or {}) for name in sorted(entries)}


def available_views(
    views_dir: Path | None, constants: Mapping[str, str] | None = None
) -> dict[str, dict[str, Any]]:
    """Every available ViewDefinition (as parsed JSON) by name; user views override shipped ones."""
    return {name: entry.view for name, entry in catalog(views_dir, constants).items()}
