"""What a resource builder yields: the NDJSON line plus the few facts that ``_typeFilter`` looks at.

Filters are evaluated on these facts instead of re-parsing the JSON, so filtering costs nothing extra.
"""

from __future__ import annotations

from typing import NamedTuple

Token = tuple[str, str]  # (system, code)


class Row(NamedTuple):
    line: str  # compact JSON, no newline
    status: str
    date: str  # the type's main date (ISO, possibly partial); "" when the resource has none
    categories: tuple[Token, ...]
    codes: tuple[Token, ...]


def tokens(codings: tuple[tuple[str, str, str | None], ...] | list[tuple[str, str, str | None]]) -> tuple[Token, ...]:
    """The (system, code) pairs of (system, code, display) codings."""
    return tuple((system, code) for system, code, _ in codings)


def codings_json(codings: tuple[tuple[str, str, str | None], ...] | list[tuple[str, str, str | None]]) -> list[dict]:
    """Codings as FHIR dicts; a display of None leaves the member out (Epic omits it for mapped codes)."""
    return [
        {"system": system, "code": code} if display is None else {"system": system, "code": code, "display": display}
        for system, code, display in codings
    ]


def concept(codings: tuple[tuple[str, str, str | None], ...] | list[tuple[str, str, str | None]], text: str) -> dict:
    return {"coding": codings_json(codings), "text": text}
