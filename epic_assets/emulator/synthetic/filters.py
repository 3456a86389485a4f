"""``_typeFilter`` support: FHIR search query strings evaluated against generated rows.

A type's filters are a list of query strings combined with OR; within one query every parameter must
hold (AND), and a comma inside a value means OR. Each type supports its FHIR R4 search parameters for
category, code (``type``/``vaccine-code`` where FHIR names it so; Encounter also ``class``), status
(``clinical-status`` for Condition and AllergyIntolerance) and its main date (``date``, ``authoredon``,
``recorded-date``, ``birthdate``) with ``eq ne gt lt ge le`` prefixes; Patient supports ``gender``.
Tokens match ``code`` or ``system|code`` against every coding. Anything else raises ``ValueError``
naming the parameter: silently ignoring a filter would export data the caller asked to exclude.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from urllib.parse import parse_qsl

from epic_assets.emulator.synthetic.rows import Row, Token

Predicate = Callable[[Row], bool]

# FHIR R4 search parameter name -> the Row field it is evaluated on, per type.
_CATEGORY, _CODES, _STATUS, _DATE = "categories", "codes", "status", "date"
_PARAMETERS: dict[str, dict[str, str]] = {
    "Patient": {"gender": _CODES, "birthdate": _DATE},
    "Encounter": {"class": _CATEGORY, "type": _CODES, "status": _STATUS, "date": _DATE},
    "Observation": {"category": _CATEGORY, "code": _CODES, "status": _STATUS, "date": _DATE},
    "Condition": {"category": _CATEGORY, "code": _CODES, "clinical-status": _STATUS, "recorded-date": _DATE},
    "Immunization": {"vaccine-code": _CODES, "status": _STATUS, "date": _DATE},
    "MedicationRequest": {"category": _CATEGORY, "code": _CODES, "status": _STATUS, "authoredon": _DATE},
    "DiagnosticReport": {"category": _CATEGORY, "code": _CODES, "status": _STATUS, "date": _DATE},
    "AllergyIntolerance": {"category": _CATEGORY, "code": _CODES, "clinical-status": _STATUS, "date": _DATE},
    "Procedure": {"category": _CATEGORY, "code": _CODES, "status": _STATUS, "date": _DATE},
    "DocumentReference": {"category": _CATEGORY, "type": _CODES, "status": _STATUS, "date": _DATE},
}
_DATE_VALUE = re.compile(r"\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2})?(\.\d+)?(Z|[+-]\d{2}:\d{2})?)?)?)?")
_DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le")


def supported_parameters(resource_type: str) -> tuple[str, ...]:
    """The ``_typeFilter`` search parameters this generator evaluates for ``resource_type``."""
    return tuple(_PARAMETERS[resource_type])


def _token_test(values: list[str]) -> Callable[[tuple[Token, ...]], bool]:
    wanted: list[tuple[str | None, str | None]] = []
    for value in values:
        if "|" in value:
            system, code = value.split("|", 1)
            wanted.append((system, code or None))
        else:
            wanted.append((None, value))

    def test(tokens: tuple[Token, ...]) -> bool:
        for system, code in wanted:
            for token_system, token_code in tokens:
                if (system is None or token_system == system) and (code is None or token_code == code):
                    return True
        return False

    return test


def _date_test(name: str, values: list[str]) -> Callable[[str], bool]:
    tests: list[Callable[[str], bool]] = []
    for raw in values:
        prefix, value = (raw[:2], raw[2:]) if raw[:2].isalpha() else ("eq", raw)
        if prefix not in _DATE_PREFIXES:
            raise ValueError(f"_typeFilter parameter {name!r}: unsupported date prefix {prefix!r} in {raw!r}")
        if not _DATE_VALUE.fullmatch(value):
            raise ValueError(f"_typeFilter parameter {name!r}: {value!r} is not a FHIR date")
        width = len(value)
        # Compare at the precision the caller gave: "2020" matches every date in 2020.
        comparisons: dict[str, Callable[[str], bool]] = {
            "eq": lambda date, v=value, w=width: date[:w] == v,
            "ne": lambda date, v=value, w=width: date[:w] != v,
            "gt": lambda date, v=value, w=width: date[:w] > v,
            "lt": lambda date, v=value, w=width: date[:w] < v,
            "ge": lambda date, v=value, w=width: date[:w] >= v,
            "le": lambda date, v=value, w=width: date[:w] <= v,
        }
        tests.append(comparisons[prefix])
    return lambda date: bool(date) and any(test(date) for test in tests)


def _query_predicate(resource_type: str, query: str) -> Predicate:
    text = query.strip()
    if "?" in text:
        head, text = text.split("?", 1)
        if head and head != resource_type:
            raise ValueError(f"_typeFilter {query!r} is for {head!r}, not {resource_type!r}")
    pairs = parse_qsl(text, keep_blank_values=True)
    if not pairs:
        raise ValueError(f"_typeFilter {query!r} for {resource_type} has no parameters")
    parameters = _PARAMETERS[resource_type]
    checks: list[Predicate] = []
    for name, value in pairs:
        field = parameters.get(name)
        if field is None:
            raise ValueError(
                f"unsupported _typeFilter parameter {name!r} for {resource_type} (supported: {', '.join(parameters)})"
            )
        values = [part for part in value.split(",") if part]
        if not values:
            raise ValueError(f"_typeFilter parameter {name!r} for {resource_type} has no value")
        if field == _CATEGORY:
            category_test = _token_test(values)
            checks.append(lambda row, t=category_test: t(row.categories))
        elif field == _CODES:
            code_test = _token_test(values)
            checks.append(lambda row, t=code_test: t(row.codes))
        elif field == _STATUS:
            allowed = frozenset(values)
            checks.append(lambda row, a=allowed: row.status in a)
        else:
            date_test = _date_test(name, values)
            checks.append(lambda row, t=date_test: t(row.date))
    return lambda row: all(check(row) for check in checks)


def compile_filters(resource_type: str, queries: Sequence[str]) -> Predicate | None:
    """A row predicate for ``queries`` (OR across them); None when there is nothing to filter."""
    if isinstance(queries, str):
        raise TypeError("type filters are a list of query strings, not a single string")
    if not queries:
        return None
    predicates = [_query_predicate(resource_type, query) for query in queries]
    if len(predicates) == 1:
        return predicates[0]
    return lambda row: any(predicate(row) for predicate in predicates)
