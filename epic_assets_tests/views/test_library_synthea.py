"""The shipped views on both Synthea exports (plain .ndjson and split .ndjson.gz), checked against Python reads.

Every expectation is computed from the same NDJSON files with the standard json module.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from epic_assets.views.library import LIBRARY_DIR
from epic_assets_tests.views.test_library import CHILD_TABLES
from epic_assets_tests.views.test_library_support import (
    SYNTHEA_SETS,
    ViewRunner,
    as_utc,
    by_id,
    fhir_date,
    fhir_instant,
    first_coding_in,
    group_by,
    is_laboratory,
    is_vital_sign,
    materialize_library,
    reference_id,
)

LOINC = "http://loinc.org"
# One row per resource: table -> resource type.
RESOURCE_TABLES = {
    "patient": "Patient",
    "encounter": "Encounter",
    "observation": "Observation",
    "condition": "Condition",
    "immunization": "Immunization",
    "medication_request": "MedicationRequest",
    "diagnostic_report": "DiagnosticReport",
    "allergy_intolerance": "AllergyIntolerance",
    "procedure": "Procedure",
    "document_reference": "DocumentReference",
}
CHILD_RESOURCE = {
    "patient_identifier": "Patient", "patient_name": "Patient", "patient_address": "Patient",
    "patient_telecom": "Patient", "observation_component": "Observation", "observation_category": "Observation",
    "diagnostic_report_result": "DiagnosticReport", "allergy_intolerance_reaction": "AllergyIntolerance",
    "document_reference_content": "DocumentReference",
}  # fmt: skip


@pytest.fixture(scope="module", params=SYNTHEA_SETS)
def synthea(request: pytest.FixtureRequest, synthea_dir: Path) -> ViewRunner:
    directory = synthea_dir / request.param
    if not directory.is_dir():
        pytest.skip(f"{directory} is absent")
    return ViewRunner(directory)


def present(synthea: ViewRunner, resource_type: str) -> list[dict]:
    resources = synthea.resources(resource_type)
    if not resources:
        pytest.skip(f"{synthea.directory.name} has no {resource_type}")
    return resources


@pytest.mark.parametrize("table", sorted(RESOURCE_TABLES))
def test_one_row_per_resource_keyed_by_id(synthea: ViewRunner, table: str) -> None:
    resources = present(synthea, RESOURCE_TABLES[table])
    rows = synthea.rows(table)
    assert set(by_id(rows)) == {resource["id"] for resource in resources}


@pytest.mark.parametrize("table", sorted(CHILD_TABLES))
def test_child_rows_match_list_elements_without_duplicate_keys(synthea: ViewRunner, table: str) -> None:
    element, parent_key, index_column = CHILD_TABLES[table]
    resources = present(synthea, CHILD_RESOURCE[table])
    rows = synthea.rows(table)
    keys = [(row[parent_key], row[index_column]) for row in rows]
    assert len(keys) == len(set(keys)), f"{table} has duplicate ({parent_key}, {index_column}) keys"
    expected = {(resource["id"], index) for resource in resources for index in range(len(resource.get(element, [])))}
    assert set(keys) == expected


def test_observation_and_its_children_join_to_patient_and_encounter(synthea: ViewRunner) -> None:
    observations = present(synthea, "Observation")
    patients = by_id(synthea.rows("patient"))
    encounters = by_id(synthea.rows("encounter"))
    rows = by_id(synthea.rows("observation"))
    for resource in observations:
        row = rows[resource["id"]]
        assert row["patient_id"] == reference_id(resource.get("subject"), "Patient")
        assert row["encounter_id"] == reference_id(resource.get("encounter"), "Encounter")
        assert row["patient_id"] in patients, f"observation {resource['id']} does not join to patient"
        if row["encounter_id"] is not None:
            assert row["encounter_id"] in encounters
    joined_tables = [
        "vital_signs", "lab_results", "observation_component", "observation_category", "condition", "procedure",
        "medication_request", "immunization", "diagnostic_report", "diagnostic_report_result", "encounter",
        "allergy_intolerance", "allergy_intolerance_reaction",
    ]  # fmt: skip
    for table in joined_tables:
        rows = synthea.rows(table)
        orphans = [row for row in rows if row["patient_id"] not in patients]
        assert not orphans, f"{table}: {len(orphans)} rows do not join to patient"
        if table != "encounter":
            dangling = [
                row for row in rows if row["encounter_id"] is not None and row["encounter_id"] not in encounters
            ]
            assert not dangling, f"{table}: {len(dangling)} rows name an encounter that is not in encounter"


def test_report_results_link_to_observations_in_both_reference_forms(synthea: ViewRunner) -> None:
    reports = present(synthea, "DiagnosticReport")
    observations = by_id(synthea.rows("observation"))
    rows = group_by(synthea.rows("diagnostic_report_result"), "diagnostic_report_id")
    forms = set()
    for report in reports:
        ordered = sorted(rows.get(report["id"], []), key=lambda r: r["result_index"])
        for result, row in zip(report.get("result", []), ordered, strict=True):
            text = result["reference"]
            forms.add(text.split(":", 1)[0] if text.startswith("urn:") else "relative")
            expected = (
                text.removeprefix("urn:uuid:") if text.startswith("urn:uuid:") else reference_id(result, "Observation")
            )
            assert row["reference"] == text
            assert row["observation_id"] == expected
            assert row["observation_id"] in observations, f"{report['id']} result {text} does not join"
    assert "relative" in forms


def test_vital_signs_rows_are_values_and_components(synthea: ViewRunner) -> None:
    vitals = [resource for resource in present(synthea, "Observation") if is_vital_sign(resource)]
    rows = group_by(synthea.rows("vital_signs"), "id")
    assert set(rows) <= {resource["id"] for resource in vitals}
    for resource in vitals:
        expected = {}
        if "valueQuantity" in resource:
            expected[("value", None)] = resource["valueQuantity"]["value"]
        for index, component in enumerate(resource.get("component", [])):
            expected[("component", index)] = component.get("valueQuantity", {}).get("value")
        got = {(row["source"], row["component_index"]): row["value"] for row in rows.get(resource["id"], [])}
        assert len(got) == len(rows.get(resource["id"], [])), f"{resource['id']}: duplicate measurement rows"
        assert set(got) == set(expected), resource["id"]
        for key, value in expected.items():
            assert (None if got[key] is None else float(got[key])) == pytest.approx(value)


def test_blood_pressure_splits_into_systolic_and_diastolic(synthea: ViewRunner) -> None:
    rows = synthea.rows("vital_signs")
    panels = [
        resource for resource in present(synthea, "Observation")
        if is_vital_sign(resource) and resource.get("component")
    ]  # fmt: skip
    assert panels, "expected blood-pressure panels in the Synthea vitals"
    rows_by_id = group_by(rows, "id")
    for panel in panels:
        got = {row["code"]: row for row in rows_by_id[panel["id"]] if row["source"] == "component"}
        for component in panel["component"]:
            loinc = first_coding_in(component["code"], [LOINC])["code"]
            assert float(got[loinc]["value"]) == pytest.approx(component["valueQuantity"]["value"])
            assert got[loinc]["unit_code"] == component["valueQuantity"]["code"]
        assert {"8480-6", "8462-4"} <= set(got)


def test_temperature_in_celsius_gets_a_computed_fahrenheit(synthea: ViewRunner) -> None:
    temperatures = [
        resource for resource in present(synthea, "Observation")
        if is_vital_sign(resource) and resource.get("valueQuantity", {}).get("code") == "Cel"
    ]  # fmt: skip
    if not temperatures:
        pytest.skip("no temperatures in this set")
    rows = by_id([row for row in synthea.rows("vital_signs") if row["source"] == "value"])
    for resource in temperatures:
        celsius = resource["valueQuantity"]["value"]
        row = rows[resource["id"]]
        assert float(row["temperature_celsius"]) == pytest.approx(celsius)
        assert float(row["temperature_fahrenheit"]) == pytest.approx(celsius * 9 / 5 + 32)
    others = [row for row in rows.values() if row["unit_code"] not in ("Cel", "[degF]")]
    assert others and all(row["temperature_fahrenheit"] is None for row in others)


def test_lab_results_are_the_laboratory_observations_with_their_values(synthea: ViewRunner) -> None:
    labs = [resource for resource in present(synthea, "Observation") if is_laboratory(resource)]
    rows = by_id(synthea.rows("lab_results"))
    assert set(rows) == {resource["id"] for resource in labs}
    for resource in labs:
        row = rows[resource["id"]]
        quantity = resource.get("valueQuantity")
        if quantity is not None:
            assert float(row["value_quantity"]) == pytest.approx(quantity["value"])
            assert row["value_unit_code"] == quantity.get("code")
        assert row["loinc_code"] == first_coding_in(resource["code"], [LOINC])["code"]
        assert row["code"] == row["loinc_code"]
        concept = resource.get("valueCodeableConcept")
        if concept is not None:
            assert row["value_concept_code"] == concept["coding"][0]["code"]


def test_typed_dates_equal_the_fhir_text(synthea: ViewRunner) -> None:
    patients = by_id(synthea.rows("patient"))
    for resource in present(synthea, "Patient"):
        row = patients[resource["id"]]
        assert row["birth_date"] == resource["birthDate"]
        assert row["birth_date_on"] == fhir_date(resource["birthDate"])
    encounters = by_id(synthea.rows("encounter"))
    for resource in synthea.resources("Encounter"):
        row = encounters[resource["id"]]
        assert row["period_start"] == resource["period"]["start"]
        assert as_utc(row["period_start_at"]) == fhir_instant(resource["period"]["start"])
    procedures = by_id(synthea.rows("procedure"))
    for resource in synthea.resources("Procedure"):
        period = resource.get("performedPeriod", {})
        start = resource.get("performedDateTime", period.get("start"))
        assert as_utc(procedures[resource["id"]]["performed_start_at"]) == fhir_instant(start)
        if "end" in period:
            assert as_utc(procedures[resource["id"]]["performed_end_at"]) == fhir_instant(period["end"])


def test_mrn_falls_back_to_the_v2_mr_identifier(synthea: ViewRunner) -> None:
    patients = by_id(synthea.rows("patient"))
    for resource in present(synthea, "Patient"):
        mrns = [
            identifier["value"] for identifier in resource.get("identifier", [])
            if any(coding.get("code") == "MR" for coding in identifier.get("type", {}).get("coding", []))
        ]  # fmt: skip
        assert patients[resource["id"]]["mrn"] == (mrns[0] if mrns else None)


def pick_by_priority(concept: dict | None, priority: list[str]) -> dict | None:
    """The coding a view should choose: first of the most preferred system present, else the first coding."""
    codings = (concept or {}).get("coding", [])
    for system in priority:
        for coding in codings:
            if coding.get("system") == system:
                return coding
    return codings[0] if codings else None


# table -> (resource type, CodeableConcept element, code column, system priority)
CODE_PRIORITIES = {
    "condition": ("Condition", "code", "code", ["http://snomed.info/sct", "http://hl7.org/fhir/sid/icd-10-cm"]),
    "procedure": ("Procedure", "code", "code", ["http://snomed.info/sct", "http://www.ama-assn.org/go/cpt"]),
    "immunization": ("Immunization", "vaccineCode", "vaccine_code", ["http://hl7.org/fhir/sid/cvx"]),
    "medication_request": (
        "MedicationRequest",
        "medicationCodeableConcept",
        "medication_code",
        ["http://www.nlm.nih.gov/research/umls/rxnorm"],
    ),
    "diagnostic_report": ("DiagnosticReport", "code", "code", [LOINC, "http://snomed.info/sct"]),
    "allergy_intolerance": ("AllergyIntolerance", "code", "code", ["http://snomed.info/sct"]),
}


@pytest.mark.parametrize("table", sorted(CODE_PRIORITIES))
def test_codes_follow_the_system_priority(synthea: ViewRunner, table: str) -> None:
    resource_type, element, column, priority = CODE_PRIORITIES[table]
    rows = by_id(synthea.rows(table))
    for resource in present(synthea, resource_type):
        expected = pick_by_priority(resource.get(element), priority)
        row = rows[resource["id"]]
        assert row[column] == (expected or {}).get("code"), resource["id"]
        system_column = "code_system" if column == "code" else column.replace("_code", "_system")
        assert row[system_column] == (expected or {}).get("system")


def test_every_synthea_vital_sign_gets_a_short_name(synthea: ViewRunner) -> None:
    rows = synthea.rows("vital_signs")
    unnamed = {row["code"] for row in rows if row["vital_sign"] is None}
    assert not unnamed, f"vital-sign LOINC codes without a vital_sign name: {sorted(unnamed)}"
    names_by_code = {(row["code"], row["vital_sign"]) for row in rows if row["code"] in ("8480-6", "8462-4")}
    assert names_by_code == {("8480-6", "systolic_blood_pressure"), ("8462-4", "diastolic_blood_pressure")}


def test_readme_example_queries_run(synthea: ViewRunner) -> None:
    readme = (LIBRARY_DIR / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Example queries", 1)[1].split("```sql", 1)[1].split("```", 1)[0]
    statements = [statement.strip() for statement in block.split(";") if statement.strip()]
    assert len(statements) >= 4
    with duckdb.connect() as connection:
        connection.execute("SET TimeZone = 'UTC'")
        materialize_library(connection, synthea.directory)
        results = [connection.execute(statement).fetchall() for statement in statements]
    latest_bp = results[0]
    assert latest_bp, "the blood-pressure example returns rows on Synthea"
    assert {row[2] for row in latest_bp} == {"systolic_blood_pressure", "diastolic_blood_pressure"}
