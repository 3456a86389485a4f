"""The ViewDefinition compiler beyond the official suite: errors, schema, typing, sources, FHIRPath extras."""

from __future__ import annotations

import datetime
import gzip
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from epic_assets.views import JsonTextSource, NdjsonSource, ViewDefinitionError, compile_view, load_view
from epic_assets.views.compiler import REPEAT_MAX_DEPTH


def _write_ndjson(path: Path, resources: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in resources), encoding="utf-8")
    return path


def _rows(view: dict[str, Any], resources: list[dict[str, Any]], tmp_path: Path) -> list[dict[str, Any]]:
    compiled = compile_view(view)
    result = duckdb.sql(compiled.sql(NdjsonSource([_write_ndjson(tmp_path / "in.ndjson", resources)])))
    names = [c[0] for c in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def _view(*columns: dict[str, Any], resource: str = "Patient", **extra: Any) -> dict[str, Any]:
    return {"resource": resource, "select": [{"column": list(columns)}], **extra}


# ---------------------------------------------------------------------------- rejected views


@pytest.mark.parametrize(
    ("view", "message"),
    [
        (
            {
                "resource": "Patient",
                "select": [
                    {"column": [{"name": "id", "path": "id"}]},
                    {"column": [{"name": "x", "path": "name.foo()"}]},
                ],
            },
            "select[1].column[0].path: unknown function 'foo'",
        ),
        ({"select": [{"column": [{"name": "id", "path": "id"}]}]}, "resource: missing"),
        (_view({"name": "id", "path": "id"}, resource="patient"), "resource: invalid resource type"),
        (_view({"name": "bad name", "path": "id"}), "select[0].column[0].name: invalid column name"),
        (_view({"name": "x", "path": "name.where(use = %nope)"}), "undefined constant '%nope'"),
        (
            _view({"name": "x", "path": "name.family"}, where=[{"path": "name.family"}]),
            "where[0].path: expected a boolean",
        ),
        (_view({"name": "x", "path": "value"}, resource="Observation"), "'value' is a choice element"),
        (_view({"name": "x", "path": "name.("}), "select[0].column[0].path: invalid FHIRPath"),
        (
            {
                "resource": "Patient",
                "select": [
                    {"unionAll": [{"column": [{"name": "a", "path": "id"}]}, {"column": [{"name": "b", "path": "id"}]}]}
                ],
            },
            "select[0].unionAll[1]: columns ['b'] do not match",
        ),
        (
            {
                "resource": "Patient",
                "select": [{"column": [{"name": "a", "path": "id"}]}, {"column": [{"name": "a", "path": "gender"}]}],
            },
            "column name 'a' is used twice",
        ),
        (_view({"name": "x", "path": "id"}, constant=[{"name": "c"}]), "constant 'c' needs exactly one value[x]"),
        ({"resource": "Patient", "select": [{"forEach": "name", "repeat": ["item"], "column": []}]}, "only one of"),
    ],
)
def test_invalid_views_are_rejected_naming_the_element(view: dict[str, Any], message: str) -> None:
    with pytest.raises(ViewDefinitionError) as raised:
        compile_view(view)
    assert message in str(raised.value)


def test_load_view_names_the_file_and_line_of_bad_json(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"resource": "Patient",\n "select": [}', encoding="utf-8")
    with pytest.raises(ViewDefinitionError, match=r"broken\.json: line 2: invalid JSON"):
        load_view(path)


def test_both_view_shapes_are_accepted() -> None:
    logical = _view({"name": "id", "path": "id"})
    resource_form = {
        "resourceType": "ViewDefinition",
        "status": "active",
        "name": "pt",
        "url": "http://x/pt",
        **logical,
    }
    assert compile_view(logical).columns == compile_view(resource_form).columns == [("id", "VARCHAR")]
    assert compile_view(resource_form).name == "pt"
    assert compile_view(logical).name == "patient"


def test_collection_false_with_several_values_fails_at_query_time(tmp_path: Path) -> None:
    view = _view({"name": "family", "path": "name.family"})
    resources = [{"resourceType": "Patient", "id": "p", "name": [{"family": "A"}, {"family": "B"}]}]
    with pytest.raises(duckdb.Error, match=r"select\[0\]\.column\[0\]\.path: expression returned more than one"):
        _rows(view, resources, tmp_path)


# ---------------------------------------------------------------------------- the parse schema


def test_schema_holds_only_the_elements_the_view_reads() -> None:
    compiled = compile_view(
        _view(
            {"name": "id", "path": "id"},
            {"name": "v", "path": "value.ofType(Quantity).value"},
            {"name": "code", "path": "code.coding.where(system = 'http://loinc.org').code.first()"},
            resource="Observation",
        )
    )
    schema = compiled.transform_structure()
    assert schema == {
        "resourceType": "VARCHAR",
        "id": "VARCHAR",
        "valueQuantity": {"value": "DOUBLE"},
        "code": {"coding": [{"system": "VARCHAR", "code": "VARCHAR"}]},
    }
    assert compiled.columns == [("id", "VARCHAR"), ("v", "DOUBLE"), ("code", "VARCHAR")]


def test_unknown_elements_fall_back_to_json_instead_of_failing(tmp_path: Path) -> None:
    view = _view({"name": "id", "path": "id"}, {"name": "x", "path": "epicOnlyThing.code.first()", "type": "string"})
    assert compile_view(view).transform_structure()["epicOnlyThing"] == "JSON"
    rows = _rows(
        view, [{"resourceType": "Patient", "id": "p", "epicOnlyThing": [{"code": "a"}, {"code": "b"}]}], tmp_path
    )
    assert rows == [{"id": "p", "x": "a"}]
    assert compile_view(view).warnings == [
        "select[0].column[1].path: 'epicOnlyThing' is not an element of Patient in FHIR R4; read as untyped JSON"
    ]


def test_a_resource_type_without_shipped_definitions_still_compiles_untyped(tmp_path: Path) -> None:
    view = _view({"name": "id", "path": "id", "type": "id"}, {"name": "status", "path": "status"}, resource="Goal")
    compiled = compile_view(view)
    assert compiled.warnings[0].startswith("resource: Goal is not in the shipped FHIR R4 definitions")
    rows = _rows(view, [{"resourceType": "Goal", "id": "g", "lifecycleStatus": "active", "status": "x"}], tmp_path)
    # a declared primitive type gives text; without one the value stays JSON
    assert rows == [{"id": "g", "status": '"x"'}]
    assert compiled.columns == [("id", "VARCHAR"), ("status", "JSON")]


def test_recursive_elements_walked_by_repeat_are_held_as_json() -> None:
    view = {
        "resource": "Questionnaire",
        "select": [
            {"column": [{"name": "first_link", "path": "item.linkId.first()"}]},
            {"repeat": ["item"], "column": [{"name": "link", "path": "linkId"}]},
        ],
    }
    assert compile_view(view).transform_structure()["item"] == ["JSON"]


def test_repeat_deeper_than_the_limit_is_an_error_not_a_silent_cut(tmp_path: Path) -> None:
    item: dict[str, Any] = {"linkId": "leaf"}
    for depth in range(REPEAT_MAX_DEPTH + 1):
        item = {"linkId": str(depth), "item": [item]}
    view = {"resource": "Questionnaire", "select": [{"repeat": ["item"], "column": [{"name": "l", "path": "linkId"}]}]}
    with pytest.raises(duckdb.Error, match="nested deeper than"):
        _rows(view, [{"resourceType": "Questionnaire", "id": "q", "item": [item]}], tmp_path)


# ---------------------------------------------------------------------------- FHIRPath beyond the suite


def test_union_keeps_left_to_right_priority_and_drops_duplicates(tmp_path: Path) -> None:
    coding = [
        {"system": "http://snomed.info/sct", "code": "S"},
        {"system": "urn:local", "code": "L"},
        {"system": "http://loinc.org", "code": "LN"},
    ]
    priority = (
        "(code.coding.where(system='http://loinc.org') | code.coding.where(system='http://snomed.info/sct')"
        " | code.coding)"
    )
    view = _view(
        {"name": "code", "path": f"{priority}.first().code"},
        {"name": "system", "path": f"{priority}.first().system"},
        {"name": "all_codes", "path": f"{priority}.code", "collection": True},
        # Without the unfiltered fallback a lone coding is chosen only if a filter keeps it.
        {
            "name": "known",
            "path": "(code.coding.where(system='http://snomed.info/sct') | code.coding.where(system='http://loinc.org')).first().code",
        },
        resource="Observation",
    )
    rows = _rows(
        view,
        [
            {"resourceType": "Observation", "id": "o", "code": {"coding": coding}},
            {"resourceType": "Observation", "id": "o2", "code": {"coding": [coding[1]]}},
            {"resourceType": "Observation", "id": "o3"},
        ],
        tmp_path,
    )
    assert rows == [
        {"code": "LN", "system": "http://loinc.org", "all_codes": ["LN", "S", "L"], "known": "S"},
        {"code": "L", "system": "urn:local", "all_codes": ["L"], "known": None},
        {"code": None, "system": None, "all_codes": [], "known": None},
    ]


def test_first_of_a_filtered_member_matches_for_one_item_and_many(tmp_path: Path) -> None:
    # .first() has a fast path for collections of at most one item; both paths must agree.
    view = _view(
        {"name": "loinc", "path": "code.coding.where(system = 'http://loinc.org').code.first()"},
        {"name": "display", "path": "code.coding.display.first()"},
        resource="Observation",
    )
    loinc, other = "http://loinc.org", "urn:other"
    codings: dict[str, list[dict[str, str]]] = {
        "one-kept": [{"system": loinc, "code": "A", "display": "a"}],
        "one-dropped": [{"system": other, "code": "B"}],
        "one-without-code": [{"system": loinc}],
        "second-kept": [{"system": other, "code": "B"}, {"system": loinc, "code": "A", "display": "a"}],
        "first-without-code": [{"system": loinc}, {"system": loinc, "code": "C", "display": "c"}],
        "none": [],
    }
    resources = [{"resourceType": "Observation", "id": k, "code": {"coding": v}} for k, v in codings.items()]
    rows = _rows(view, resources, tmp_path)
    assert [(row["loinc"], row["display"]) for row in rows] == [
        ("A", "a"),
        (None, None),
        (None, None),
        ("A", "a"),
        ("C", "c"),
        (None, None),
    ]


def test_priority_choice_over_a_flattened_collection_looks_past_the_first_element(tmp_path: Path) -> None:
    # category.coding flattens every category's codings: the preferred one may sit in a later category,
    # or later in the first, and a category without coding contributes nothing.
    view = _view(
        {"name": "category", "path": "(category.coding.where(system = 'urn:hl7') | category.coding).first().code"},
        resource="Observation",
    )
    local, hl7 = {"system": "urn:local", "code": "L"}, {"system": "urn:hl7", "code": "H"}
    categories: dict[str, list[dict[str, Any]] | None] = {
        "later-category": [{"coding": [local]}, {"coding": [hl7]}],
        "later-coding": [{"coding": [local, hl7]}],
        "lone": [{"coding": [local]}],
        "empty-first": [{"text": "no coding"}, {"coding": [local]}],
        "no-coding": [{"text": "no coding"}],
        "none": None,
    }
    resources = [
        {"resourceType": "Observation", "id": key, **({"category": value} if value is not None else {})}
        for key, value in categories.items()
    ]
    rows = _rows(view, resources, tmp_path)
    assert [row["category"] for row in rows] == ["H", "H", "L", "L", None, None]


def test_replace_substitutes_every_occurrence_of_a_plain_string(tmp_path: Path) -> None:
    view = _view({"name": "phone", "path": "telecom.value.first().replace('-', '')"})
    resources = [{"resourceType": "Patient", "id": "p", "telecom": [{"value": "555-123-4567"}]}]
    assert _rows(view, resources, tmp_path) == [{"phone": "5551234567"}]


def test_round_removes_binary_noise_from_computed_decimals(tmp_path: Path) -> None:
    view = _view(
        {"name": "raw", "path": "value.ofType(Quantity).value * 1.8 + 32"},
        {"name": "rounded", "path": "(value.ofType(Quantity).value * 1.8 + 32).round(2)"},
        {"name": "whole", "path": "value.ofType(Quantity).value.round()"},
        resource="Observation",
    )
    resources = [{"resourceType": "Observation", "id": "o", "valueQuantity": {"value": 36.6}}]
    [row] = _rows(view, resources, tmp_path)
    assert row["raw"] != 97.88  # the noise round() exists for
    assert row == {"raw": row["raw"], "rounded": 97.88, "whole": 37.0}


def test_replace_matches_uses_fhirpath_group_references(tmp_path: Path) -> None:
    view = _view({"name": "binary", "path": "photo.url.first().replaceMatches('^.*/Binary/([^/]+)$', '$1')"})
    resources = [{"resourceType": "Patient", "id": "p", "photo": [{"url": "https://host/fhir/Binary/abc.1"}]}]
    assert _rows(view, resources, tmp_path) == [{"binary": "abc.1"}]


@pytest.mark.parametrize(
    ("reference", "typed", "untyped"),
    [
        ("Patient/123", "123", "123"),
        ("https://ehr.example/fhir/Patient/a.b-c/_history/2", "a.b-c", "a.b-c"),
        ("Group/9", None, "9"),
        ("urn:uuid:5f0a", None, "5f0a"),
        ("Patient/", None, None),
        ("Patient/a/b", None, None),
        ("Patients/1", None, "1"),
    ],
)
def test_reference_keys(reference: str, typed: str | None, untyped: str | None, tmp_path: Path) -> None:
    view = _view(
        {"name": "typed", "path": "subject.getReferenceKey(Patient)"},
        {"name": "untyped", "path": "subject.getReferenceKey()"},
        resource="Observation",
    )
    rows = _rows(view, [{"resourceType": "Observation", "id": "o", "subject": {"reference": reference}}], tmp_path)
    assert rows == [{"typed": typed, "untyped": untyped}]


def test_iif_and_string_functions(tmp_path: Path) -> None:
    view = _view(
        {"name": "kind", "path": "iif(deceased.ofType(boolean), 'dead', 'alive')"},
        {"name": "initial", "path": "name.family.first().substring(0, 1).upper()"},
        {"name": "emails", "path": "telecom.where(system = 'email').count()"},
    )
    resources = [
        {
            "resourceType": "Patient",
            "id": "p",
            "deceasedBoolean": False,
            "name": [{"family": "smith"}],
            "telecom": [{"system": "email", "value": "a"}, {"system": "phone", "value": "b"}],
        }
    ]
    assert _rows(view, resources, tmp_path) == [{"kind": "alive", "initial": "S", "emails": 1}]


def test_type_operators_membership_and_choice_presence(tmp_path: Path) -> None:
    view = _view(
        {"name": "has_value", "path": "value.exists()"},
        {"name": "is_quantity", "path": "value is Quantity"},
        {"name": "unit", "path": "(value as Quantity).unit"},
        {"name": "final_like", "path": "status in ('final' | 'amended')"},
        {"name": "has_loinc", "path": "code.coding.system contains 'http://loinc.org'"},
        resource="Observation",
    )
    resources = [
        {
            "resourceType": "Observation",
            "id": "q",
            "status": "final",
            "valueQuantity": {"value": 1, "unit": "mg"},
            "code": {"coding": [{"system": "http://loinc.org", "code": "1"}]},
        },
        {"resourceType": "Observation", "id": "none", "status": "preliminary", "code": {"text": "x"}},
    ]
    assert _rows(view, resources, tmp_path) == [
        {"has_value": True, "is_quantity": True, "unit": "mg", "final_like": True, "has_loinc": True},
        {"has_value": False, "is_quantity": False, "unit": None, "final_like": False, "has_loinc": False},
    ]


def test_contained_resources_are_selected_by_type(tmp_path: Path) -> None:
    view = _view(
        {"name": "id", "path": "id"},
        {"name": "medication", "path": "contained.ofType(Medication).code.coding.code.first()"},
        {"name": "contained_types", "path": "contained.count()"},
        resource="MedicationRequest",
    )
    resources = [
        {
            "resourceType": "MedicationRequest",
            "id": "m",
            "contained": [
                {"resourceType": "Organization", "id": "o", "name": "Pharmacy"},
                {"resourceType": "Medication", "id": "med", "code": {"coding": [{"code": "1049221"}]}},
            ],
        }
    ]
    assert compile_view(view).transform_structure()["contained"] == ["JSON"]
    assert _rows(view, resources, tmp_path) == [{"id": "m", "medication": "1049221", "contained_types": 2}]


def test_union_and_combine_functions(tmp_path: Path) -> None:
    view = _view(
        {"name": "u", "path": "name.given.union(name.family)", "collection": True},
        {"name": "c", "path": "name.given.combine(name.given)", "collection": True},
    )
    rows = _rows(
        view, [{"resourceType": "Patient", "id": "p", "name": [{"family": "F", "given": ["A", "A"]}]}], tmp_path
    )
    assert rows == [{"u": ["A", "F"], "c": ["A", "A", "A", "A"]}]


def test_extensions_on_primitive_elements_are_read_from_their_underscore_sibling(tmp_path: Path) -> None:
    absent = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
    view = _view(
        {"name": "id", "path": "id"},
        {"name": "birth_absent", "path": f"birthDate.extension('{absent}').value.ofType(code).first()"},
        {"name": "gender_has_extension", "path": "gender.extension.exists()"},
    )
    resources = [
        {"resourceType": "Patient", "id": "p", "_birthDate": {"extension": [{"url": absent, "valueCode": "unknown"}]}},
        {"resourceType": "Patient", "id": "q", "birthDate": "2000-01-01"},
    ]
    assert _rows(view, resources, tmp_path) == [
        {"id": "p", "birth_absent": "unknown", "gender_has_extension": False},
        {"id": "q", "birth_absent": None, "gender_has_extension": False},
    ]


def test_reading_into_a_primitive_is_rejected_clearly() -> None:
    with pytest.raises(ViewDefinitionError, match=r"select\[0\]\.column\[0\]\.path: cannot read 'family' of a date"):
        compile_view(_view({"name": "x", "path": "birthDate.family"}))


# ---------------------------------------------------------------------------- typed date companions


def test_ansi_type_tag_types_partial_and_invalid_dates_without_failing(tmp_path: Path) -> None:
    def typed(name: str, ansi: str) -> dict[str, Any]:
        return {"name": name, "path": "birthDate", "type": "date", "tag": [{"name": "ansi/type", "value": ansi}]}

    view = _view(
        {"name": "id", "path": "id"},
        typed("d", "DATE"),
        typed("ts", "TIMESTAMP"),
        typed("tz", "TIMESTAMP WITH TIME ZONE"),
    )
    resources = [
        {"resourceType": "Patient", "id": "year", "birthDate": "2020"},
        {"resourceType": "Patient", "id": "month", "birthDate": "2020-05"},
        {"resourceType": "Patient", "id": "day", "birthDate": "2020-05-17"},
        {"resourceType": "Patient", "id": "bad", "birthDate": "not-a-date"},
        # 4 characters but 12 bytes: the short-value test counts bytes, and no branch casts it
        {"resourceType": "Patient", "id": "wide", "birthDate": "\uff12\uff10\uff12\uff10"},
        {"resourceType": "Patient", "id": "none"},
    ]
    rows = {r["id"]: r for r in _rows(view, resources, tmp_path)}
    utc = datetime.UTC
    assert [rows[k]["tz"] for k in ("year", "month", "day")] == [
        datetime.datetime(2020, 1, 1, tzinfo=utc),
        datetime.datetime(2020, 5, 1, tzinfo=utc),
        datetime.datetime(2020, 5, 17, tzinfo=utc),
    ]
    assert rows["wide"]["d"] is None and rows["wide"]["ts"] is None and rows["wide"]["tz"] is None
    assert compile_view(view).columns[1:] == [("d", "DATE"), ("ts", "TIMESTAMP"), ("tz", "TIMESTAMP WITH TIME ZONE")]
    assert [str(rows[k]["d"]) for k in ("year", "month", "day")] == ["2020-01-01", "2020-05-01", "2020-05-17"]
    assert str(rows["month"]["ts"]) == "2020-05-01 00:00:00"
    assert rows["bad"]["d"] is None and rows["bad"]["ts"] is None and rows["bad"]["tz"] is None
    assert rows["none"]["d"] is None


def test_timestamptz_companions_do_not_depend_on_the_session_time_zone(tmp_path: Path) -> None:
    column = {"name": "at", "path": "birthDate", "tag": [{"name": "ansi/type", "value": "TIMESTAMPTZ"}]}
    compiled = compile_view(_view(column))
    path = _write_ndjson(tmp_path / "p.ndjson", [{"resourceType": "Patient", "id": "p", "birthDate": "2020-05"}])
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    utc = connection.sql(compiled.sql(NdjsonSource([path]))).fetchall()
    connection.execute("SET TimeZone = 'America/New_York'")
    new_york = connection.sql(compiled.sql(NdjsonSource([path]))).fetchall()
    assert utc == new_york
    assert utc[0][0].isoformat() == "2020-05-01T00:00:00+00:00"


def test_timestamp_companion_of_an_instant_with_offset_is_utc(tmp_path: Path) -> None:
    column = {"name": "at", "path": "issued", "tag": [{"name": "ansi/type", "value": "TIMESTAMP"}]}
    rows = _rows(
        _view(column, resource="Observation"),
        [{"resourceType": "Observation", "id": "o", "issued": "2015-02-07T13:28:17.239+02:00"}],
        tmp_path,
    )
    assert str(rows[0]["at"]) == "2015-02-07 11:28:17.239000"


# ---------------------------------------------------------------------------- sources


def test_both_sources_give_identical_rows_from_one_compiled_body(synthea_dir: Path) -> None:
    files = sorted((synthea_dir / "bulk-data-server-r4-100pt").glob("Patient.*.ndjson.gz"))
    view = {
        "resource": "Patient",
        "select": [
            {"column": [{"name": "id", "path": "getResourceKey()"}, {"name": "birth", "path": "birthDate"}]},
            {
                "forEachOrNull": "name",
                "column": [{"name": "family", "path": "family"}, {"name": "given", "path": "given.join(' ')"}],
            },
        ],
    }
    compiled = compile_view(view)
    connection = duckdb.connect()
    connection.execute(
        "CREATE TABLE raw AS SELECT json AS resource FROM read_ndjson_objects(?)", [[str(f) for f in files]]
    )
    from_files = connection.sql(compiled.sql(NdjsonSource(files))).fetchall()
    from_text = connection.sql(compiled.sql(JsonTextSource("SELECT resource FROM raw", "resource"))).fetchall()
    assert len(from_files) > 100
    assert sorted(from_files, key=str) == sorted(from_text, key=str)


def test_a_file_mixing_resource_types_yields_only_the_views_type(tmp_path: Path) -> None:
    resources = [
        {"resourceType": "Organization", "id": "o", "name": "Clinic"},  # name is a string here, a list in Patient
        {"resourceType": "Patient", "id": "p", "name": [{"family": "F"}]},
    ]
    view = _view({"name": "id", "path": "id"}, {"name": "family", "path": "name.family.first()"})
    assert _rows(view, resources, tmp_path) == [{"id": "p", "family": "F"}]


def test_a_malformed_line_fails_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.ndjson"
    path.write_text('{"resourceType": "Patient", "id": "p"}\n{"resourceType": "Pat\n', encoding="utf-8")
    compiled = compile_view(_view({"name": "id", "path": "id"}))
    with pytest.raises(duckdb.Error, match=r"malformed JSON\?\) in .*bad\.ndjson"):
        duckdb.sql(compiled.sql(NdjsonSource([path]))).fetchall()


def test_gzip_ndjson_is_read(tmp_path: Path) -> None:
    path = tmp_path / "Patient.000.ndjson.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps({"resourceType": "Patient", "id": "gz", "gender": "female"}) + "\n")
    compiled = compile_view(_view({"name": "id", "path": "id"}, {"name": "gender", "path": "gender"}))
    assert duckdb.sql(compiled.sql(NdjsonSource([path]))).fetchall() == [("gz", "female")]
