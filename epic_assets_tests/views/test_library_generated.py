"""The shipped views on Epic-shaped data from the emulator's generator (no ../shared needed).

The generator reproduces Epic's quirks at volume (padded INTERNAL ids, BP components, °F extensions,
unit-less labs, stacked codings, long ids); every expectation here is computed from the same NDJSON with
the standard json module.
"""

from __future__ import annotations

import pytest

from epic_assets.emulator import synthetic
from epic_assets_tests.views.test_library import CHILD_TABLES
from epic_assets_tests.views.test_library_support import (
    ViewRunner,
    by_id,
    first_coding_in,
    group_by,
    is_laboratory,
    is_vital_sign,
    reference_id,
)
from epic_assets_tests.views.test_library_synthea import CHILD_RESOURCE, RESOURCE_TABLES

LOINC = "http://loinc.org"
FAHRENHEIT_URL = "http://open.epic.com/FHIR/STU3/StructureDefinition/temperature-in-fahrenheit"



@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> ViewRunner:
    directory = tmp_path_factory.mktemp("generated-epic")
    # Small files so every type spans several files, as Epic's ~3,000-resource files do at scale.
    synthetic.write_export(synthetic.SUPPORTED_TYPES, patients=30, seed=7, out_dir=directory, max_per_file=500)
    return ViewRunner(directory)


@pytest.mark.parametrize("table", sorted(RESOURCE_TABLES))
def test_one_row_per_generated_resource(generated: ViewRunner, table: str) -> None:
    resources = generated.resources(RESOURCE_TABLES[table])
    assert resources, f"the generator produced no {RESOURCE_TABLES[table]}"
    assert set(by_id(generated.rows(table))) == {resource["id"] for resource in resources}


@pytest.mark.parametrize("table", sorted(CHILD_TABLES))
def test_child_tables_have_one_row_per_list_element(generated: ViewRunner, table: str) -> None:
    element, parent_key, index_column = CHILD_TABLES[table]
    rows = generated.rows(table)
    keys = [(row[parent_key], row[index_column]) for row in rows]
    assert len(keys) == len(set(keys)), f"{table} multiplies rows"
    resources = generated.resources(CHILD_RESOURCE[table])
    assert set(keys) == {(r["id"], i) for r in resources for i in range(len(r.get(element, [])))}


def test_every_fact_joins_to_its_patient_and_encounter(generated: ViewRunner) -> None:
    patients = by_id(generated.rows("patient"))
    encounters = by_id(generated.rows("encounter"))
    for table in [*RESOURCE_TABLES, *CHILD_RESOURCE, "vital_signs", "lab_results"]:
        if table in ("patient", "patient_identifier", "patient_name", "patient_address", "patient_telecom"):
            continue
        rows = generated.rows(table)
        assert rows, f"{table} is empty on generated data"
        assert all(row["patient_id"] in patients for row in rows), f"{table} has rows without a patient"
        if table != "encounter":
            dangling = [r for r in rows if r["encounter_id"] is not None and r["encounter_id"] not in encounters]
            assert not dangling, f"{table}: {len(dangling)} rows name a missing encounter"


def test_blood_pressure_components_become_systolic_and_diastolic_rows(generated: ViewRunner) -> None:
    panels = [r for r in generated.resources("Observation") if is_vital_sign(r) and r.get("component")]
    assert panels, "the generator makes one-Observation blood pressures"
    rows = group_by(generated.rows("vital_signs"), "id")
    for panel in panels:
        got = {row["vital_sign"]: row for row in rows[panel["id"]] if row["source"] == "component"}
        assert set(got) == {"systolic_blood_pressure", "diastolic_blood_pressure"}
        by_code = {first_coding_in(c["code"], [LOINC])["code"]: c["valueQuantity"] for c in panel["component"]}
        assert float(got["systolic_blood_pressure"]["value"]) == by_code["8480-6"]["value"]
        assert float(got["diastolic_blood_pressure"]["value"]) == by_code["8462-4"]["value"]
        assert got["systolic_blood_pressure"]["unit_code"] == "mm[Hg]"


def test_fahrenheit_comes_from_epics_extension(generated: ViewRunner) -> None:
    temperatures = [
        r for r in generated.resources("Observation")
        if is_vital_sign(r) and r.get("valueQuantity", {}).get("code") == "Cel"
    ]  # fmt: skip
    assert temperatures
    rows = by_id([row for row in generated.rows("vital_signs") if row["source"] == "value"])
    for resource in temperatures:
        # Epic puts the Fahrenheit reading on the Observation itself, not on valueQuantity.
        extension = next(e for e in resource["extension"] if e["url"] == FAHRENHEIT_URL)
        row = rows[resource["id"]]
        assert float(row["temperature_celsius"]) == resource["valueQuantity"]["value"]
        assert float(row["temperature_fahrenheit"]) == extension["valueQuantity"]["value"]


def test_labs_without_a_unit_keep_their_value(generated: ViewRunner) -> None:
    labs = [r for r in generated.resources("Observation") if is_laboratory(r)]
    unitless = [r for r in labs if "valueQuantity" in r and "unit" not in r["valueQuantity"]]
    assert unitless, "the generator makes unit-less labs, as Epic does"
    rows = by_id(generated.rows("lab_results"))
    assert set(rows) == {r["id"] for r in labs}
    for resource in unitless:
        row = rows[resource["id"]]
        assert float(row["value_quantity"]) == pytest.approx(resource["valueQuantity"]["value"])
        assert row["value_unit"] is None


def test_codes_prefer_loinc_over_epic_oids_wherever_loinc_is_present(generated: ViewRunner) -> None:
    rows = by_id(generated.rows("observation"))
    checked = 0
    for resource in generated.resources("Observation"):
        codings = resource["code"].get("coding", [])
        if codings and codings[0]["system"] != LOINC and any(c["system"] == LOINC for c in codings):
            # Epic stacks the 8716-3 "Vital signs" grouper on every vital; the measured code is the other LOINC.
            expected = first_coding_in(resource["code"], [LOINC], skip_codes=("8716-3",))["code"]
            assert rows[resource["id"]]["loinc_code"] == expected
            assert rows[resource["id"]]["code_system"] == LOINC
            checked += 1
    assert checked, "expected observations whose first coding is an Epic OID"


def test_padded_internal_identifiers_are_kept_and_trimmed(generated: ViewRunner) -> None:
    rows = [row for row in generated.rows("patient_identifier") if row["type_text"] == "INTERNAL"]
    assert len(rows) == len(generated.resources("Patient"))
    for row in rows:
        assert row["value"] != row["value"].lstrip(), "Epic left-pads INTERNAL with spaces"
        assert row["value_trimmed"] == row["value"].strip()


def test_long_epic_ids_survive_as_keys(generated: ViewRunner) -> None:
    long_ids = [r["id"] for r in generated.resources("Observation") if len(r["id"]) > 64]
    assert long_ids, "the generator makes ids over FHIR's 64 characters, as Epic does"
    assert set(long_ids) <= set(by_id(generated.rows("observation")))


def test_document_content_points_at_binaries_the_emulator_serves(generated: ViewRunner) -> None:
    rows = generated.rows("document_reference_content")
    assert rows
    for row in rows:
        assert row["attachment_url"] == f"Binary/{row['binary_id']}"
        assert synthetic.render_binary(row["binary_id"], seed=7) is not None


def test_diagnostic_report_results_resolve_to_observations(generated: ViewRunner) -> None:
    observations = by_id(generated.rows("observation"))
    rows = generated.rows("diagnostic_report_result")
    assert rows
    for row in rows:
        assert row["observation_id"] in observations
        assert reference_id({"reference": row["reference"]}, "Observation") == row["observation_id"]
