"""SQL for FHIR's partial dates and times: boundaries and typed DATE/TIMESTAMP companions.

FHIR date/dateTime/instant values are held as text because they may be partial ('2020', '2020-05').
The typed companions never fail a query: a partial value maps to its low boundary, an unparseable value
to NULL.
"""

from __future__ import annotations

import re

from epic_assets.views.errors import ViewDefinitionError

_DATETIME = r"'^(\d{4}(?:-\d{2}(?:-\d{2})?)?)(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?(Z|[+-]\d{2}:\d{2})?$'"
_TIME = r"'^(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?$'"
_ANSI_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9 _]*(?:\(\s*\d+(?:\s*,\s*\d+)?\s*\))?(?:\[\])?")


def _group(sql: str, pattern: str, n: int) -> str:
    return f"nullif(regexp_extract({sql}, {pattern}, {n}), '')"


def date_low(sql: str) -> str:
    """'2020' -> '2020-01-01', '2020-05' -> '2020-05-01', full dates and longer values cut to the date."""
    return (
        f"(CASE length({sql}) WHEN 4 THEN {sql} || '-01-01' WHEN 7 THEN {sql} || '-01' ELSE substr({sql}, 1, 10) END)"
    )


def date_high(sql: str) -> str:
    return (
        f"(CASE length({sql}) WHEN 4 THEN {sql} || '-12-31' "
        f"WHEN 7 THEN strftime(last_day(TRY_CAST({sql} || '-01' AS DATE)), '%Y-%m-%d') "
        f"ELSE substr({sql}, 1, 10) END)"
    )


def _datetime_boundary(sql: str, kind: str) -> str:
    low = kind == "low"
    date_part = date_low(_group(sql, _DATETIME, 1)) if low else date_high(_group(sql, _DATETIME, 1))
    hour = f"coalesce({_group(sql, _DATETIME, 2)}, '{'00' if low else '23'}')"
    zone = f"coalesce({_group(sql, _DATETIME, 6)}, '{'+14:00' if low else '-12:00'}')"
    text = f"{date_part} || 'T' || {hour} || ':' || {_rest_of_clock(sql, _DATETIME, 3, low)} || {zone}"
    return f"(CASE WHEN regexp_matches({sql}, {_DATETIME}) THEN {text} END)"


def _time_boundary(sql: str, kind: str) -> str:
    low = kind == "low"
    text = f"{_group(sql, _TIME, 1)} || ':' || {_rest_of_clock(sql, _TIME, 2, low)}"
    return f"(CASE WHEN regexp_matches({sql}, {_TIME}) THEN {text} END)"


def _rest_of_clock(sql: str, pattern: str, minute_group: int, low: bool) -> str:
    """``mm:ss.fff`` from the pattern's minute, second and fraction groups, absent parts filled to the
    earliest (``low``) or latest instant they could stand for."""
    minute = f"coalesce({_group(sql, pattern, minute_group)}, '{'00' if low else '59'}')"
    second = f"coalesce({_group(sql, pattern, minute_group + 1)}, '{'00' if low else '59'}')"
    fraction = f"rpad(coalesce({_group(sql, pattern, minute_group + 2)}, ''), 3, '{'0' if low else '9'}')"
    return f"{minute} || ':' || {second} || '.' || {fraction}"


def _decimal_boundary(sql: str, kind: str) -> str:
    # Precision comes from the written digits; values are held as DOUBLE, so trailing zeros beyond the
    # shortest representation are not recoverable (1.50 behaves like 1.5).
    text = f"CAST({sql} AS VARCHAR)"
    scale = f"(CASE WHEN contains({text}, '.') THEN length(split_part({text}, '.', 2)) ELSE 0 END)"
    half_unit = f"(0.5 / pow(10, {scale}))"
    return f"({sql} {'-' if kind == 'low' else '+'} {half_unit})"


def boundary(sql: str, fhir_type: str, kind: str) -> str:
    if fhir_type == "date":
        return f"(CASE WHEN {sql} IS NOT NULL THEN {date_low(sql) if kind == 'low' else date_high(sql)} END)"
    if fhir_type in {"dateTime", "instant"}:
        return _datetime_boundary(sql, kind)
    if fhir_type == "time":
        return _time_boundary(sql, kind)
    if fhir_type in {"decimal", "integer", "positiveInt", "unsignedInt", "integer64"}:
        return _decimal_boundary(sql, kind)
    raise ViewDefinitionError(f"{kind}Boundary() is not defined for {fhir_type}")


def _instant(text: str) -> str:
    """A FHIR date/dateTime/instant as TIMESTAMPTZ, independent of the session time zone.

    Values without an offset (dates, partial dates) are taken as UTC: a date becomes its first instant
    in UTC, so results do not change with DuckDB's TimeZone setting.
    """
    # ends_with, not right(): right() walks grapheme clusters and cost as much as the cast itself.
    has_offset = f"(ends_with({text}, 'Z') OR substr({text}, -6, 1) IN ('+', '-'))"
    # strlen (bytes) is O(1) where length counts characters; they differ only for text with non-ASCII
    # characters, which no branch can cast. It also keeps DuckDB from computing length() for every row
    # to share it with date_low's CASE (~0.03 CPU s per 1M values).
    return (
        f"(CASE WHEN strlen({text}) <= 10 THEN TRY_CAST({date_low(text)} || ' 00:00:00+00:00' AS TIMESTAMPTZ) "
        f"WHEN {has_offset} THEN TRY_CAST({text} AS TIMESTAMPTZ) "
        f"ELSE TRY_CAST({text} || '+00:00' AS TIMESTAMPTZ) END)"
    )


def ansi_cast(sql: str, ansi_type: str, where: str) -> str:
    """Cast a column to its ``ansi/type`` tag; temporal FHIR text gets partial-value handling."""
    if not isinstance(ansi_type, str) or not _ANSI_TYPE.fullmatch(ansi_type.strip()):
        raise ViewDefinitionError(f"{where}: invalid ansi/type {ansi_type!r}")
    target = " ".join(ansi_type.upper().split())
    text = f"CAST({sql} AS VARCHAR)"
    if target == "DATE":
        return f"TRY_CAST({date_low(text)} AS DATE)"
    if target in {"TIMESTAMP", "TIMESTAMP WITHOUT TIME ZONE", "DATETIME"}:
        return f"timezone('UTC', {_instant(text)})"
    if target in {"TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"}:
        return _instant(text)
    return f"TRY_CAST({sql} AS {target})"
