"""The shipped table library is well formed: every view compiles and follows the library's conventions."""

from __future__ import annotations

import re
from typing import Any

import pytest

from epic_assets import identifiers
from epic_assets.views import compile_view, load_view
from epic_assets.views.library import (
    LIBRARY_DIR,
    UnknownLibraryViewError,
    UnknownViewConstantError,
    load_all,
    load_view_json,
    override_constants,
    view_names,
)

EXPECTED_TABLES = {
    "patient", "patient_identifier", "patient_name", "patient_address", "patient_telecom",
    "encounter",
    "observation", "observation_component", "observation_category", "vital_signs", "lab_results",
    "condition", "immunization", "medication_request",
    "diagnostic_report", "diagnostic_report_result",
    "allergy_intolerance", "allergy_intolerance_reaction",
    "procedure",
    "document_reference", "document_reference_content",
}  # fmt: skip

# Child tables: view name -> (the list they unroll, the parent-key column, the row-index column).
CHILD_TABLES = {
    "patient_identifier": ("identifier", "patient_id", "identifier_index"),
    "patient_name": ("name", "patient_id", "name_index"),
    "patient_address": ("address", "patient_id", "address_index"),
    "patient_telecom": ("telecom", "patient_id", "telecom_index"),
    "observation_component": ("component", "observation_id", "component_index"),
    "observation_category": ("category", "observation_id", "category_index"),
    "diagnostic_report_result": ("result", "diagnostic_report_id", "result_index"),
    "allergy_intolerance_reaction": ("reaction", "allergy_intolerance_id", "reaction_index"),
    "document_reference_content": ("content", "document_reference_id", "content_index"),
}
TYPED_SUFFIXES = {"TIMESTAMP WITH TIME ZONE": "_at", "DATE": "_on"}


def all_columns(node: dict[str, Any]) -> list[dict[str, Any]]:
    """Columns of a view or select in document order, descending into select and the first unionAll branch."""
    columns = list(node.get("column", []))
    for child in node.get("select", []):
        columns += all_columns(child)
    if node.get("unionAll"):
        columns += all_columns(node["unionAll"][0])
    return columns


def all_selects(node: dict[str, Any]) -> list[dict[str, Any]]:
    selects = [node]
    for child in [*node.get("select", []), *node.get("unionAll", [])]:
        selects += all_selects(child)
    return selects


def all_paths(node: dict[str, Any]) -> list[str]:
    paths = [column["path"] for select in all_selects(node) for column in select.get("column", [])]
    paths += [select[key] for select in all_selects(node) for key in ("forEach", "forEachOrNull") if key in select]
    return paths + [where["path"] for where in node.get("where", [])]


@pytest.fixture(scope="module", params=sorted(EXPECTED_TABLES))
def view(request: pytest.FixtureRequest) -> dict[str, Any]:
    return load_view_json(request.param)


def test_the_library_ships_exactly_the_documented_tables() -> None:
    assert set(view_names()) == EXPECTED_TABLES
    readme = (LIBRARY_DIR / "README.md").read_text(encoding="utf-8")
    for name in EXPECTED_TABLES:
        assert f"`{name}`" in readme, f"README.md does not document {name}"


def test_readme_column_reference_matches_each_view(view: dict[str, Any]) -> None:
    readme = (LIBRARY_DIR / "README.md").read_text(encoding="utf-8")
    section = readme.split(f"### `{view['name']}` (", 1)[1].split("\n### ", 1)[0]
    documented = re.findall(r"^\| `([a-z0-9_]+)` \|", section, flags=re.MULTILINE)
    assert documented == [column["name"] for column in all_columns(view)]


def test_view_name_is_the_file_stem_and_a_valid_table_name(view: dict[str, Any]) -> None:
    assert view["resourceType"] == "ViewDefinition"
    assert (LIBRARY_DIR / f"{view['name']}.json").is_file()
    identifiers.sql_name(view["name"])
    identifiers.resource_type(view["resource"])


def test_every_view_and_column_is_described_and_typed(view: dict[str, Any]) -> None:
    assert view.get("description", "").strip()
    for column in all_columns(view):
        identifiers.sql_name(column["name"], where=f"{view['name']} column")
        assert column.get("description", "").strip(), f"{view['name']}.{column['name']} has no description"
        assert column.get("type"), f"{view['name']}.{column['name']} has no FHIR type"


def test_union_branches_have_identical_columns(view: dict[str, Any]) -> None:
    for select in all_selects(view):
        branches = select.get("unionAll", [])
        shapes = {tuple(column["name"] for column in all_columns(branch)) for branch in branches}
        assert len(shapes) <= 1, f"{view['name']}: unionAll branches differ: {shapes}"


def test_every_table_carries_the_resource_key_and_joins_to_patient(view: dict[str, Any]) -> None:
    names = [column["name"] for column in all_columns(view)]
    assert len(names) == len(set(names)), f"{view['name']} repeats a column name"
    key_column = CHILD_TABLES[view["name"]][1] if view["name"] in CHILD_TABLES else "id"
    key = next(column for column in all_columns(view) if column["name"] == key_column)
    assert key["path"] == "getResourceKey()"
    if view["resource"] != "Patient":
        patient = next(column for column in all_columns(view) if column["name"] == "patient_id")
        assert "getReferenceKey(Patient)" in patient["path"]
    if view["resource"] not in ("Patient", "Encounter"):
        encounter = next(column for column in all_columns(view) if column["name"] == "encounter_id")
        assert "getReferenceKey(Encounter)" in encounter["path"]


def test_codes_are_never_chosen_by_position(view: dict[str, Any]) -> None:
    for path in all_paths(view):
        assert not re.search(r"\[\s*\d+\s*\]", path), f"{view['name']}: positional index in {path!r}"
        assert "coding.first()" not in path, f"{view['name']}: first coding taken without a priority in {path!r}"
        assert "coding[" not in path


def test_typed_dates_have_a_text_twin_with_the_same_path(view: dict[str, Any]) -> None:
    columns = {column["name"]: column for column in all_columns(view)}
    for column in columns.values():
        sql_types = [tag["value"] for tag in column.get("tag", []) if tag["name"] == "ansi/type"]
        if not sql_types:
            continue
        suffix = TYPED_SUFFIXES[sql_types[0]]
        assert column["name"].endswith(suffix), f"{column['name']} is {sql_types[0]} but does not end in {suffix}"
        twin = columns.get(column["name"][: -len(suffix)])
        assert twin is not None and twin["path"] == column["path"] and "tag" not in twin


def test_child_tables_unroll_one_list_and_index_its_rows() -> None:
    for name, (element, _parent_key, index_column) in CHILD_TABLES.items():
        view = load_view_json(name)
        unrolled = [select["forEach"] for select in all_selects(view) if "forEach" in select]
        assert unrolled == [element], f"{name} unrolls {unrolled}, expected exactly [{element!r}]"
        index = next(column for column in all_columns(view) if column["name"] == index_column)
        assert index["path"] == "%rowIndex"


def test_every_shipped_view_compiles_to_its_declared_columns(view: dict[str, Any]) -> None:
    compiled = compile_view(load_view(view))
    assert compiled.name == view["name"]
    assert compiled.resource == view["resource"]
    declared = [column["name"] for column in all_columns(view)]
    compiled_types = dict(compiled.columns)
    assert [name for name, _ in compiled.columns] == declared
    for name, sql_type in compiled_types.items():
        if name.endswith("_at") and f"{name[:-3]}" in compiled_types:
            assert sql_type in {"TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"}, f"{name} is {sql_type}"
        if name.endswith("_on") and f"{name[:-3]}" in compiled_types:
            assert sql_type == "DATE", f"{name} is {sql_type}"


def test_mrn_system_is_a_constant_a_site_can_override() -> None:
    shipped = load_view_json("patient")
    site_oid = "urn:oid:1.2.840.114350.1.13.999.2.7.5.737384.14"
    configured = load_view_json("patient", {"mrn_system": site_oid})
    assert configured["constant"] == [{"name": "mrn_system", "valueString": site_oid}]
    assert shipped["constant"][0]["valueString"] != site_oid, "the shipped file must not be modified"
    assert load_view_json("patient")["constant"] == shipped["constant"]
    every = load_all({"mrn_system": site_oid})
    assert every["patient_identifier"]["constant"][0]["valueString"] == site_oid
    assert every["observation"] == load_view_json("observation")


def test_overriding_an_undeclared_constant_is_an_error_naming_it() -> None:
    with pytest.raises(UnknownViewConstantError, match="mrn_sytem"):
        load_view_json("patient", {"mrn_sytem": "urn:oid:1.2.3"})
    with pytest.raises(UnknownViewConstantError, match="no shipped view declares"):
        load_all({"nonexistent": "x"})
    with pytest.raises(UnknownViewConstantError, match="unsupported value type"):
        override_constants(load_view_json("patient"), {"mrn_system": 1.5})  # type: ignore[dict-item]


def test_unknown_or_unsafe_view_names_are_rejected() -> None:
    with pytest.raises(UnknownLibraryViewError, match="patients"):
        load_view_json("patients")
    with pytest.raises(ValueError, match="invalid SQL name"):
        load_view_json("../patient")
