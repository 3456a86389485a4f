"""What a downloaded export directory contains: which files hold which resource type.

On-disk convention for a downloaded export (what the bulk client writes and ``load`` reads):

* ``<dir>/manifest.json`` — the completed-status manifest exactly as the server returned it — plus one
  local file per manifest entry, named after the LAST path segment of the entry's ``url`` (Epic's opaque
  file id), optionally followed by ``.ndjson`` or ``.ndjson.gz``; e.g. ``url=…/BulkRequest/<req>/eIBRQ6Dc``
  is looked up as ``eIBRQ6Dc``, ``eIBRQ6Dc.ndjson``, ``eIBRQ6Dc.ndjson.gz``. The manifest's ``type`` says
  what the file holds. ``deleted[]`` entries (Bundles of ``DELETE Type/id``) and ``error[]`` entries
  (OperationOutcomes) are found the same way.
* Without a manifest: every ``<Type>.ndjson`` / ``<Type>.<anything>.ndjson[.gz]`` file in ``<dir>`` (not
  recursive), the type being the part of the name before the first dot.

Everything taken from the manifest or from file names (types, file names) is validated before it is used
in SQL or joined onto a path, and every resolved file must stay inside ``<dir>``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from epic_assets import identifiers
from epic_assets.errors import EpicAssetsError

MANIFEST_NAME = "manifest.json"
_NDJSON_SUFFIXES = (".ndjson", ".ndjson.gz")
# A local file name taken from a manifest url: one plain path component.
_SAFE_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")


@dataclass(frozen=True)
class ExportFile:
    """One NDJSON file of the export and the resource type it must hold."""

    path: Path
    name: str  # path relative to the export directory, as recorded in the warehouse
    resource_type: str
    url: str | None = None


@dataclass(frozen=True)
class ExportDirectory:
    """The files of one downloaded export plus what its manifest says about it (if there is one)."""

    root: Path
    files: tuple[ExportFile, ...]
    deleted_files: tuple[ExportFile, ...] = ()
    # ``error[]``: OperationOutcome NDJSON in which the server reports problems with the export.
    error_files: tuple[ExportFile, ...] = ()
    transaction_time: str | None = None
    request: str | None = None
    # ``_type`` names of the request with the first letter upper-cased; matched case-insensitively.
    requested_types: tuple[str, ...] = ()
    manifest: dict[str, object] | None = field(default=None, repr=False)

    @property
    def file_types(self) -> tuple[str, ...]:
        """Resource types that have at least one file in this export."""
        return tuple(sorted({f.resource_type for f in self.files}))

    def default_source(self) -> str | None:
        """``<host>.<Group id>`` from the manifest's request URL, when there is one."""
        if not self.request:
            return None
        parts = urlsplit(self.request)
        match = re.search(r"/Group/([^/]+)/\$export", parts.path)
        if not parts.hostname or not match:
            return None
        return identifiers.source_name(f"{parts.hostname}.{match.group(1)}", where=f"{self.root / MANIFEST_NAME}")


def read_export_directory(root: Path) -> ExportDirectory:
    """Find the files of an export directory (manifest-driven when ``manifest.json`` exists)."""
    root = Path(root)
    if not root.is_dir():
        raise EpicAssetsError(f"export directory {root} does not exist or is not a directory")
    manifest_path = root / MANIFEST_NAME
    export = _from_manifest(root, manifest_path) if manifest_path.is_file() else _from_file_names(root)
    if not export.files and not export.deleted_files and not export.requested_types:
        raise EpicAssetsError(
            f"{root} holds no NDJSON files (expected manifest.json or files named <Type>.ndjson[.gz])"
        )
    return export


def _from_file_names(root: Path) -> ExportDirectory:
    files = []
    for path in sorted(root.iterdir()):
        if not path.is_file() or not path.name.endswith(_NDJSON_SUFFIXES):
            continue
        type_name = path.name.split(".", 1)[0]
        resource_type = identifiers.resource_type(type_name, where=f"file name {path.name!r} in {root}")
        files.append(ExportFile(path=_inside(root, path), name=path.name, resource_type=resource_type))
    return ExportDirectory(root=root, files=tuple(files))


def _from_manifest(root: Path, manifest_path: Path) -> ExportDirectory:
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise EpicAssetsError(f"{manifest_path} is not valid JSON: {error}") from None
    if not isinstance(manifest, dict):
        raise EpicAssetsError(f"{manifest_path} is not a JSON object")
    transaction_time = manifest.get("transactionTime")
    request = manifest.get("request")
    files = _manifest_entries(root, manifest_path, manifest, "output")
    deleted = _manifest_entries(root, manifest_path, manifest, "deleted")
    errors = _manifest_entries(root, manifest_path, manifest, "error")
    return ExportDirectory(
        root=root,
        files=files,
        deleted_files=deleted,
        error_files=errors,
        transaction_time=transaction_time if isinstance(transaction_time, str) else None,
        request=request if isinstance(request, str) else None,
        requested_types=_requested_types(request, manifest_path),
        manifest=manifest,
    )


def _manifest_entries(root: Path, manifest_path: Path, manifest: dict[str, object], key: str) -> tuple[ExportFile, ...]:
    entries = manifest.get(key) or []
    if not isinstance(entries, list):
        raise EpicAssetsError(f"{manifest_path}: '{key}' is not a list")
    files = []
    for index, entry in enumerate(entries):
        where = f"{manifest_path} {key}[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            raise EpicAssetsError(f"{where} has no 'url'")
        resource_type = identifiers.resource_type(entry.get("type"), where=where)
        url = entry["url"]
        segment = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
        if not _SAFE_FILE_NAME.fullmatch(segment) or segment in {".", ".."}:
            raise EpicAssetsError(f"{where}: url {url!r} does not end in a safe file name")
        path = _find_local_file(root, segment)
        if path is None:
            raise EpicAssetsError(
                f"{where}: no local file for {url!r} (looked for {segment}, {segment}.ndjson, {segment}.ndjson.gz)"
            )
        files.append(ExportFile(path=_inside(root, path), name=path.name, resource_type=resource_type, url=url))
    return tuple(files)


def _find_local_file(root: Path, segment: str) -> Path | None:
    for candidate in (segment, segment + ".ndjson", segment + ".ndjson.gz"):
        path = root / candidate
        if path.is_file():
            return path
    return None


def _inside(root: Path, path: Path) -> Path:
    """Refuse files (or symlinks) that resolve outside the export directory."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise EpicAssetsError(f"{path} resolves outside the export directory {root}")
    return resolved


def _requested_types(request: object, manifest_path: Path) -> tuple[str, ...]:
    """Type names in the request's ``_type`` as written (Epic accepts any letter case).

    A requested type with no file still belongs to the snapshot (the server had none of it, so the
    warehouse must not keep stale ones); the loader matches these names case-insensitively against
    the file types and the types already stored for the source.
    """
    if not isinstance(request, str):
        return ()
    values = parse_qs(urlsplit(request).query).get("_type", [])
    names = []
    for value in values:
        for item in (part.strip() for part in value.split(",")):
            if item:
                names.append(identifiers.resource_type(item[:1].upper() + item[1:], where=f"{manifest_path} _type"))
    return tuple(dict.fromkeys(names))
