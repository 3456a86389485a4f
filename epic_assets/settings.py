"""Settings read from the environment (and an optional ``.env`` file), validated up front.

Every component reads its configuration through :func:`load_settings`, so the variable names and their
checks live in one place. An invalid value fails fast with a message naming the variable and the
problem; secrets (the private key) are referenced by path and never read or echoed here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

from epic_assets import identifiers

EPIC_SANDBOX_GROUP_ID = "e3iabhmS8rsueyz7vaimuiaSmfGvi.QwjVXJANlPOgR83"

# What a fresh export asks for when EPIC_TYPES is unset: the types the table library flattens.
DEFAULT_TYPES: tuple[str, ...] = (
    "Patient",
    "Encounter",
    "Observation",
    "Condition",
    "Immunization",
    "MedicationRequest",
    "DiagnosticReport",
    "AllergyIntolerance",
    "Procedure",
    "DocumentReference",
)

_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
_TYPE_FILTER = re.compile(r"(?P<type>[A-Z][A-Za-z]+)\?[^,\s]+")
_CODE_SYSTEM = re.compile(r"urn:oid:[0-2](\.[0-9]+)+|https?://[^\s']+")


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Validated settings. ``fhir_base_url`` is ``None`` when the built-in emulator should be used."""

    fhir_base_url: str | None
    token_url: str | None
    client_id: str | None
    private_key_path: Path | None
    key_id: str | None
    jwks_url: str | None
    group_id: str
    types: tuple[str, ...]
    type_filters: tuple[str, ...]
    scopes: str | None
    data_dir: Path
    duckdb_path: Path
    views_dir: Path | None = None
    mrn_system: str | None = None

    @property
    def uses_emulator(self) -> bool:
        return self.fhir_base_url is None

    @property
    def view_constants(self) -> dict[str, str]:
        """ViewDefinition constants the settings override (the site's MRN identifier system)."""
        return {"mrn_system": self.mrn_system} if self.mrn_system else {}


def _url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"https", "http"} or not parts.netloc:
        raise SettingsError(f"{name}={value!r} is not an absolute http(s) URL")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        raise SettingsError(f"{name}={value!r} must use https (plain http is allowed only on loopback)")
    if parts.query or parts.fragment:
        raise SettingsError(f"{name}={value!r} must not carry a query string or fragment")
    return value.rstrip("/")


def _types(name: str, value: str) -> tuple[str, ...]:
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise SettingsError(f"{name} is set but lists no resource types")
    try:
        return tuple(dict.fromkeys(identifiers.resource_type(item, where=name) for item in items))
    except identifiers.InvalidIdentifierError as error:
        raise SettingsError(str(error)) from None


def _type_filters(name: str, value: str, types: tuple[str, ...]) -> tuple[str, ...]:
    filters = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        match = _TYPE_FILTER.fullmatch(item)
        if not match:
            raise SettingsError(
                f"{name}: {item!r} is not 'Type?param=value' (escape commas inside one filter as %2C)"
            )
        if match["type"] not in types:
            raise SettingsError(f"{name}: {item!r} filters {match['type']}, which EPIC_TYPES does not request")
        filters.append(item)
    return tuple(filters)


def _existing_file(name: str, value: str, base: Path) -> Path:
    path = Path(value).expanduser()
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise SettingsError(f"{name}={value!r}: no such file")
    return path


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env"), cwd: Path | None = None
) -> Settings:
    """Read settings from ``env_file`` (if it exists) overlaid by ``environ`` (default ``os.environ``)."""
    base = cwd or Path.cwd()
    values: dict[str, str] = {}
    if env_file is not None:
        env_path = env_file if env_file.is_absolute() else base / env_file
        if env_path.is_file():
            values.update({k: v for k, v in dotenv_values(env_path).items() if v is not None})
    values.update(os.environ if environ is None else environ)

    def get(name: str) -> str | None:
        raw = values.get(name)
        return raw.strip() or None if raw is not None else None

    base_url = get("EPIC_FHIR_BASE_URL")
    fhir_base_url = _url("EPIC_FHIR_BASE_URL", base_url) if base_url else None
    token_url = get("EPIC_TOKEN_URL")
    jwks_url = get("EPIC_JWKS_URL")
    client_id = get("EPIC_CLIENT_ID")
    key_path = get("EPIC_PRIVATE_KEY_PATH")
    key_id = get("EPIC_KEY_ID")

    if fhir_base_url is not None:
        missing = [n for n, v in (("EPIC_CLIENT_ID", client_id), ("EPIC_PRIVATE_KEY_PATH", key_path)) if not v]
        if missing:
            raise SettingsError(f"EPIC_FHIR_BASE_URL is set, so {' and '.join(missing)} must be set too")

    group_id = get("EPIC_GROUP_ID") or EPIC_SANDBOX_GROUP_ID
    try:
        identifiers.fhir_id(group_id, where="EPIC_GROUP_ID")
    except identifiers.InvalidIdentifierError as error:
        raise SettingsError(str(error)) from None

    types_text = get("EPIC_TYPES")
    types = _types("EPIC_TYPES", types_text) if types_text else DEFAULT_TYPES
    filters_text = get("EPIC_TYPE_FILTERS")
    type_filters = _type_filters("EPIC_TYPE_FILTERS", filters_text, types) if filters_text else ()

    data_dir = Path(get("EPIC_DATA_DIR") or "data").expanduser()
    data_dir = data_dir if data_dir.is_absolute() else base / data_dir
    duckdb_text = get("EPIC_DUCKDB_PATH")
    duckdb_path = Path(duckdb_text).expanduser() if duckdb_text else data_dir / "epic.duckdb"
    duckdb_path = duckdb_path if duckdb_path.is_absolute() else base / duckdb_path
    views_text = get("EPIC_VIEWS_DIR")
    views_dir = Path(views_text).expanduser() if views_text else None
    if views_dir is not None:
        views_dir = views_dir if views_dir.is_absolute() else base / views_dir
        if not views_dir.is_dir():
            raise SettingsError(f"EPIC_VIEWS_DIR={views_text!r}: no such directory")

    mrn_system = get("EPIC_MRN_SYSTEM")
    if mrn_system is not None and not _CODE_SYSTEM.fullmatch(mrn_system):
        raise SettingsError(f"EPIC_MRN_SYSTEM={mrn_system!r} is not a code system URI (urn:oid:1.2.3… or https://…)")

    return Settings(
        fhir_base_url=fhir_base_url,
        token_url=_url("EPIC_TOKEN_URL", token_url) if token_url else None,
        client_id=client_id,
        private_key_path=_existing_file("EPIC_PRIVATE_KEY_PATH", key_path, base) if key_path else None,
        key_id=key_id,
        jwks_url=_url("EPIC_JWKS_URL", jwks_url) if jwks_url else None,
        group_id=group_id,
        types=types,
        type_filters=type_filters,
        scopes=get("EPIC_SCOPES"),
        data_dir=data_dir,
        duckdb_path=duckdb_path,
        views_dir=views_dir,
        mrn_system=mrn_system,
    )
