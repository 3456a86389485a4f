"""Names from outside must match an allow-list before they reach SQL text or a file path."""

from __future__ import annotations

import pytest

from epic_assets import identifiers
from epic_assets.identifiers import InvalidIdentifierError


@pytest.mark.parametrize("good", ["Patient", "Observation", "DocumentReference"])
def test_resource_types_accept_fhir_names(good: str) -> None:
    assert identifiers.resource_type(good) == good


@pytest.mark.parametrize(
    "bad", ["patient", "Patient;DROP TABLE x", "../Patient", "Pat ient", "", "Obs'ervation", None, 5]
)
def test_resource_types_reject_anything_else(bad: object) -> None:
    with pytest.raises(InvalidIdentifierError, match="invalid resource type"):
        identifiers.resource_type(bad, where="manifest.json output[3].type")


def test_error_names_where_the_value_came_from() -> None:
    with pytest.raises(InvalidIdentifierError, match=r"from manifest.json output\[3\].type"):
        identifiers.resource_type("x/y", where="manifest.json output[3].type")


@pytest.mark.parametrize("bad", ["Observation", "a-b", "1abc", 'x"; drop', "a" * 64])
def test_sql_names_are_lower_snake_case(bad: str) -> None:
    with pytest.raises(InvalidIdentifierError):
        identifiers.sql_name(bad)
    assert identifiers.sql_name("vital_signs") == "vital_signs"


@pytest.mark.parametrize("bad", ["..", ".", "a/b", "a\\b", "", "-x", "x y"])
def test_source_names_cannot_leave_a_directory(bad: str) -> None:
    with pytest.raises(InvalidIdentifierError):
        identifiers.source_name(bad)
    assert identifiers.source_name("fhir.epic.com_e3iab.Qw-1") == "fhir.epic.com_e3iab.Qw-1"


def test_fhir_ids_allow_epic_long_ids_but_not_paths() -> None:
    long_id = "e" + "A1." * 40
    assert identifiers.fhir_id(long_id) == long_id
    for bad in ["a/b", "../x", "a b", "a'b"]:
        with pytest.raises(InvalidIdentifierError):
            identifiers.fhir_id(bad)


def test_quoting_doubles_embedded_quotes() -> None:
    assert identifiers.quote_sql_identifier('a"b') == '"a""b"'
    assert identifiers.quote_sql_literal("it's") == "'it''s'"
