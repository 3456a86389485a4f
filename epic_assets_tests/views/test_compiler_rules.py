"""Compilation rules that make derived tables cheap, specified by the results they must keep.

Each rule rewrites a FHIRPath shape into cheaper SQL; these tests pin the FHIRPath answers (empty
collections and NULLs included) and that the cheaper form is the one generated.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from epic_assets.views import JsonTextSource, NdjsonSource, compile_view


def _rows(view: dict[str, Any], resources: list[dict[str, Any]], tmp_path: Path) -> list[dict[str, Any]]:
    """Rows from both sources (NDJSON file and JSON text), which must agree."""
    compiled = compile_view(view)
    path = tmp_path / "in.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in resources), encoding="utf-8")
    connection = duckdb.connect()
    connection.execute("CREATE TABLE raw AS SELECT json AS resource FROM read_ndjson_objects(?)", [str(path)])
    result = connection.sql(compiled.sql(NdjsonSource([path])))
    names = [c[0] for c in result.description]
    rows = [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    from_text = connection.sql(compiled.sql(JsonTextSource("SELECT resource FROM raw"))).fetchall()
    assert from_text == [tuple(r.values()) for r in rows]
    return rows


def _observation_view(*columns: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"resource": "Observation", "select": [{"column": [{"name": "id", "path": "id"}, *columns]}], **extra}


# ---------------------------------------------------------------------------- literal collections


def test_a_union_of_string_literals_is_deduplicated_in_order(tmp_path: Path) -> None:
    view = _observation_view(
        {"name": "codes", "path": "'b' | 'a' | 'b' | 'a'", "collection": True},
        {"name": "n", "path": "('b' | 'a' | 'b').count()"},
        {"name": "first", "path": "('b' | 'a').first()"},
    )
    assert _rows(view, [{"resourceType": "Observation", "id": "o"}], tmp_path) == [
        {"id": "o", "codes": ["b", "a"], "n": 2, "first": "b"}
    ]


def test_the_empty_collection_adds_nothing_to_a_union(tmp_path: Path) -> None:
    view = _observation_view(
        {"name": "literal", "path": "'b' | {}", "collection": True},
        {"name": "reversed", "path": "{} | 'b' | {}", "collection": True},
        {"name": "element", "path": "status | {} | status", "collection": True},
        {"name": "nothing", "path": "({} | {}).count()"},
    )
    assert _rows(view, [{"resourceType": "Observation", "id": "o", "status": "final"}], tmp_path) == [
        {"id": "o", "literal": ["b"], "reversed": ["b"], "element": ["final"], "nothing": 0}
    ]


def test_membership_in_string_literals_keeps_fhirpath_empty_semantics(tmp_path: Path) -> None:
    view = _observation_view(
        {"name": "is_done", "path": "status in ('final' | 'amended' | 'final')"},
        {"name": "done_contains", "path": "('final' | 'amended') contains status"},
        {"name": "is_final", "path": "status in 'final'"},
        {"name": "empty_in", "path": "{} in ('final' | 'amended')"},
        {"name": "in_empty_union", "path": "status in ({} | {})"},
    )
    resources = [
        {"resourceType": "Observation", "id": "final", "status": "final"},
        {"resourceType": "Observation", "id": "amended", "status": "amended"},
        {"resourceType": "Observation", "id": "other", "status": "preliminary"},
        {"resourceType": "Observation", "id": "absent"},
    ]
    assert _rows(view, resources, tmp_path) == [
        {
            "id": "final",
            "is_done": True,
            "done_contains": True,
            "is_final": True,
            "empty_in": None,
            "in_empty_union": False,
        },
        {
            "id": "amended",
            "is_done": True,
            "done_contains": True,
            "is_final": False,
            "empty_in": None,
            "in_empty_union": False,
        },
        {
            "id": "other",
            "is_done": False,
            "done_contains": False,
            "is_final": False,
            "empty_in": None,
            "in_empty_union": False,
        },
        # an empty element is empty, not false, exactly as before the rule
        {
            "id": "absent",
            "is_done": None,
            "done_contains": None,
            "is_final": None,
            "empty_in": None,
            "in_empty_union": None,
        },
    ]


def test_membership_inside_a_filter_treats_missing_elements_as_no_match(tmp_path: Path) -> None:
    loinc = "system in ('http://loinc.org' | 'urn:oid:2.16.840.1.113883.6.1') and code in ('8480-6' | '8462-4')"
    view = _observation_view({"name": "blood_pressure", "path": f"code.coding.exists({loinc})"})
    resources = [
        {
            "resourceType": "Observation",
            "id": "oid",
            "code": {"coding": [{"system": "urn:oid:2.16.840.1.113883.6.1", "code": "8462-4"}]},
        },
        {
            "resourceType": "Observation",
            "id": "second",
            "code": {"coding": [{"code": "8480-6"}, {"system": "http://loinc.org", "code": "8480-6"}]},
        },
        {"resourceType": "Observation", "id": "no_system", "code": {"coding": [{"code": "8480-6"}]}},
        {
            "resourceType": "Observation",
            "id": "other_code",
            "code": {"coding": [{"system": "http://loinc.org", "code": "1-1"}]},
        },
        {"resourceType": "Observation", "id": "no_coding", "code": {"text": "x"}},
    ]
    assert {r["id"]: r["blood_pressure"] for r in _rows(view, resources, tmp_path)} == {
        "oid": True,
        "second": True,
        "no_system": False,
        "other_code": False,
        "no_coding": False,
    }


def test_membership_in_literals_compiles_to_sql_in_without_list_lambdas() -> None:
    sql = compile_view(_observation_view({"name": "x", "path": "status in ('final' | 'amended' | 'final')"})).sql(
        JsonTextSource("SELECT resource FROM raw")
    )
    assert "IN ('final', 'amended')" in sql
    assert "list_contains" not in sql and "list_position" not in sql


# ---------------------------------------------------------------------------- forEach: where(...) of the resource


def _quantity_rows_view(*columns: dict[str, Any]) -> dict[str, Any]:
    return {
        "resource": "Observation",
        "select": [
            {"column": [{"name": "id", "path": "id"}]},
            {
                "unionAll": [
                    {
                        "forEach": "where(value.ofType(Quantity).value > 5)",
                        "column": [
                            {"name": "kind", "path": "'value'"},
                            {"name": "index", "path": "%rowIndex"},
                            {"name": "value", "path": "value.ofType(Quantity).value"},
                            *columns,
                        ],
                    },
                    {
                        "forEach": "component",
                        "column": [
                            {"name": "kind", "path": "'component'"},
                            {"name": "index", "path": "%rowIndex"},
                            {"name": "value", "path": "value.ofType(Quantity).value"},
                            *columns,
                        ],
                    },
                ]
            },
        ],
    }


def test_foreach_over_a_filter_of_the_resource_yields_the_resource_once_when_it_holds(tmp_path: Path) -> None:
    view = _quantity_rows_view({"name": "code", "path": "code.coding.code.first()"})
    resources = [
        {
            "resourceType": "Observation",
            "id": "big",
            "valueQuantity": {"value": 9},
            "code": {"coding": [{"code": "c"}]},
        },
        {"resourceType": "Observation", "id": "small", "valueQuantity": {"value": 1}},
        # no value: the criteria is empty, which selects nothing (as false does)
        {"resourceType": "Observation", "id": "none", "component": [{"valueQuantity": {"value": 2}}]},
    ]
    assert _rows(view, resources, tmp_path) == [
        {"id": "big", "kind": "value", "index": 0, "value": 9.0, "code": "c"},
        {"id": "none", "kind": "component", "index": 0, "value": 2.0, "code": None},
    ]


def test_foreach_over_a_filter_of_the_resource_does_not_evaluate_columns_of_rejected_resources(
    tmp_path: Path,
) -> None:
    # single() fails on two extensions; the resource holding them is rejected by the forEach criteria,
    # so the column must not run on it (a once-per-resource hoisted copy would).
    picked = "(code.coding.where(extension.url.single() = 'u') | code.coding).first().code"
    view = {
        "resource": "Observation",
        "select": [{"forEach": "where(status = 'final')", "column": [{"name": "code", "path": picked}]}],
    }
    two = [{"url": "a"}, {"url": "b"}]
    resources = [
        {
            "resourceType": "Observation",
            "id": "f",
            "status": "final",
            "code": {"coding": [{"code": "x"}, {"code": "y"}]},
        },
        {
            "resourceType": "Observation",
            "id": "p",
            "status": "preliminary",
            "code": {"coding": [{"code": "z", "extension": two}, {"code": "w"}]},
        },
    ]
    assert _rows(view, resources, tmp_path) == [{"code": "x"}]


def test_foreach_over_a_filter_of_the_resource_keeps_nested_selects(tmp_path: Path) -> None:
    view = {
        "resource": "Observation",
        "select": [
            {
                "forEach": "where(status = 'final')",
                "column": [{"name": "id", "path": "id"}],
                "select": [{"forEachOrNull": "component", "column": [{"name": "part", "path": "code.text"}]}],
            }
        ],
    }
    resources = [
        {
            "resourceType": "Observation",
            "id": "two",
            "status": "final",
            "component": [{"code": {"text": "a"}}, {"code": {"text": "b"}}],
        },
        {"resourceType": "Observation", "id": "bare", "status": "final"},
        {"resourceType": "Observation", "id": "draft", "status": "preliminary", "component": [{"code": {"text": "c"}}]},
    ]
    assert _rows(view, resources, tmp_path) == [
        {"id": "two", "part": "a"},
        {"id": "two", "part": "b"},
        {"id": "bare", "part": None},
    ]


# ---------------------------------------------------------------------------- JSON text source


@pytest.mark.parametrize("where", ["status = 'final'", "code.coding.exists(code = '1')"])
def test_json_text_is_parsed_once_even_when_filters_could_be_pushed_into_the_parse(where: str) -> None:
    view = _observation_view(where=[{"path": where}])
    connection = duckdb.connect()
    connection.execute("CREATE TABLE raw (resource VARCHAR)")
    plan = connection.execute(
        "EXPLAIN " + compile_view(view).sql(JsonTextSource("SELECT resource FROM raw"))
    ).fetchall()
    assert "".join(str(line[1]) for line in plan).count("json_transform") <= 1


def test_a_resource_type_column_replaces_the_parsed_resource_type(tmp_path: Path) -> None:
    view = _observation_view({"name": "status", "path": "status"}, where=[{"path": "status = 'final'"}])
    compiled = compile_view(view)
    connection = duckdb.connect()
    connection.execute("CREATE TABLE raw (kind VARCHAR, resource VARCHAR)")
    resources = [
        {"resourceType": "Observation", "id": "a", "status": "final"},
        {"resourceType": "Observation", "id": "b", "status": "amended"},
        {"resourceType": "Patient", "id": "p", "status": "final"},
    ]
    connection.executemany("INSERT INTO raw VALUES (?, ?)", [[r["resourceType"], json.dumps(r)] for r in resources])
    typed = JsonTextSource("SELECT kind, resource FROM raw", resource_type_column="kind")
    assert '"resourceType"' not in typed.relation(compiled).split("json_transform", 1)[1]
    plain = JsonTextSource("SELECT resource FROM raw")
    assert connection.sql(compiled.sql(typed)).fetchall() == [("a", "final")]
    assert connection.sql(compiled.sql(plain)).fetchall() == [("a", "final")]


# ---------------------------------------------------------------------------- forEach at the top level


def _component_view(iteration: str) -> dict[str, Any]:
    return {
        "resource": "Observation",
        "select": [
            {"column": [{"name": "id", "path": "id"}, {"name": "code", "path": "code.coding.code.single()"}]},
            {
                iteration: "component",
                "column": [
                    {"name": "index", "path": "%rowIndex"},
                    {"name": "kind", "path": "'component'"},
                    {"name": "value", "path": "value.ofType(Quantity).value"},
                    {"name": "part_codes", "path": "code.coding.code", "collection": True},
                ],
            },
        ],
    }


_COMPONENT_RESOURCES = [
    {
        "resourceType": "Observation",
        "id": "bp",
        "code": {"coding": [{"code": "85354-9"}]},
        "component": [
            {"code": {"coding": [{"code": "8480-6"}]}, "valueQuantity": {"value": 120}},
            {"code": {"coding": [{"code": "8462-4"}, {"code": "x"}]}},
        ],
    },
    {"resourceType": "Observation", "id": "empty", "code": {"coding": [{"code": "e"}]}, "component": []},
    # two codings make the resource-level single() fail, but only for a resource that yields rows
    {"resourceType": "Observation", "id": "absent", "code": {"coding": [{"code": "a"}, {"code": "b"}]}},
]


def test_foreach_rows_carry_resource_columns_item_columns_and_the_row_index(tmp_path: Path) -> None:
    assert _rows(_component_view("forEach"), _COMPONENT_RESOURCES, tmp_path) == [
        {"id": "bp", "code": "85354-9", "index": 0, "kind": "component", "value": 120.0, "part_codes": ["8480-6"]},
        {"id": "bp", "code": "85354-9", "index": 1, "kind": "component", "value": None, "part_codes": ["8462-4", "x"]},
    ]


def test_foreach_or_null_keeps_a_row_of_empty_item_columns_for_an_empty_collection(tmp_path: Path) -> None:
    resources = _COMPONENT_RESOURCES[:2]
    assert _rows(_component_view("forEachOrNull"), resources, tmp_path)[2:] == [
        {"id": "empty", "code": "e", "index": 0, "kind": "component", "value": None, "part_codes": []}
    ]


def test_foreach_at_the_top_level_unnests_items_instead_of_mapping_a_lambda() -> None:
    sql = compile_view(_component_view("forEach")).sql(JsonTextSource("SELECT resource FROM raw"))
    assert '"component" AS _items' in sql and "unnest(_items)" in sql
    assert 'list_transform("component"' not in sql
