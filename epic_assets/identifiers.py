"""Validation of names that end up in SQL text or file paths.

Anything that comes from outside (a manifest, a file name, a setting, a ViewDefinition) must pass
through one of these before it is spliced into SQL or joined onto a path. Each check is an allow-list,
never an escape routine: a name either matches or is rejected with a message saying what and where.
"""

from __future__ import annotations

import re

# FHIR resource type names are PascalCase ASCII letters (R4 max length is 33; allow headroom).
_RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{0,63}")
# Table, view and column names we create: lower snake case, starting with a letter.
_SQL_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
# Source names (server + Group label): letters, digits, dot, dash, underscore; no path separators.
_SOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# Epic Group / FHIR ids: FHIR's id alphabet; Epic ids can exceed 64 characters, so allow more.
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,256}")


class InvalidIdentifierError(ValueError):
    """A name failed validation; the message names the kind, the value and where it came from."""


def _check(pattern: re.Pattern[str], value: object, kind: str, rule: str, where: str | None) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value) or value in {".", ".."}:
        origin = f" (from {where})" if where else ""
        raise InvalidIdentifierError(f"invalid {kind} {value!r}{origin}: {rule}")
    return value


def resource_type(value: object, where: str | None = None) -> str:
    """A FHIR resource type name such as ``Observation``."""
    return _check(_RESOURCE_TYPE, value, "resource type", "expected a FHIR type name like 'Patient'", where)


def sql_name(value: object, where: str | None = None) -> str:
    """A table, view or column name we create: lower snake case, at most 63 characters."""
    return _check(
        _SQL_NAME, value, "SQL name", "expected lower-case letters, digits and '_', starting with a letter", where
    )


def source_name(value: object, where: str | None = None) -> str:
    """A warehouse source label: safe as a SQL literal and as one path component."""
    return _check(
        _SOURCE_NAME, value, "source name", "expected letters, digits, '.', '-' or '_' (no slashes)", where
    )


def fhir_id(value: object, where: str | None = None) -> str:
    """A FHIR logical id (Epic's may be longer than FHIR's 64-character limit)."""
    return _check(_FHIR_ID, value, "FHIR id", "expected letters, digits, '-' or '.'", where)


def quote_sql_identifier(name: str) -> str:
    """Double-quote an already validated identifier for DuckDB."""
    return '"' + name.replace('"', '""') + '"'


def quote_sql_literal(text: str) -> str:
    """Single-quote a string literal for DuckDB (for validated values and file paths we chose)."""
    return "'" + text.replace("'", "''") + "'"
