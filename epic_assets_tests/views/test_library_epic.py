"""The shipped views on Epic's captured payloads: the Epic quirks of EPIC.md §6, each checked against the sample.

The single-resource samples and the bulk Observation NDJSON are written as NDJSON into a temp dir; expected
values are read from the sample JSON, not typed in.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from epic_assets.views.library import load_view_json
from epic_assets_tests.views.test_library_support import (
    ViewRunner,
    as_utc,
    by_id,
    fhir_date,
    fhir_instant,
    first_coding_in,
    group_by,
    iter_sample_resources,
    run_library_view,
    write_ndjson,
)

LOINC = "http://loinc.org"
SNOMED = ["http://snomed.info/sct", "urn:oid:2.16.840.1.113883.6.96"]
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
EPIC_OID_PREFIX = "urn:oid:1.2.840.114350."
FAHRENHEIT_URL = "http://open.epic.com/FHIR/STU3/StructureDefinition/temperature-in-fahrenheit"


def sample(epic_samples: Path, name: str) -> dict[str, Any]:
    return json.loads((epic_samples / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def epic(epic_samples: Path, tmp_path_factory: pytest.TempPathFactory) -> ViewRunner:
    directory = tmp_path_factory.mktemp("epic-ndjson")
    write_ndjson(directory, list(iter_sample_resources(epic_samples)))
    return ViewRunner(directory)


def test_blood_pressure_becomes_systolic_and_diastolic_rows(epic: ViewRunner, epic_samples: Path) -> None:
    bp = sample(epic_samples, "Observation.vital-signs.BP.json")
    rows = [row for row in epic.rows("vital_signs") if row["id"] == bp["id"]]
    expected = {
        first_coding_in(component["code"], [LOINC])["code"]: component["valueQuantity"] for component in bp["component"]
    }
    assert set(expected) == {"8480-6", "8462-4"}
    assert {row["code"] for row in rows} == set(expected)
    assert len(rows) == len(expected), "a BP observation without valueQuantity must not add a value row"
    for row in rows:
        quantity = expected[row["code"]]
        assert row["source"] == "component"
        assert float(row["value"]) == quantity["value"]
        assert row["unit_code"] == quantity["code"] == "mm[Hg]"
        assert row["patient_id"] == bp["subject"]["reference"].split("/", 1)[1]
        assert row["encounter_id"] == bp["encounter"]["reference"].split("/", 1)[1]
        assert as_utc(row["effective_at"]) == datetime.fromisoformat(bp["effectiveDateTime"])
    # The panel code is the first LOINC coding that is not the 8716-3 grouper, though Epic lists OIDs first.
    panel = next(c for c in bp["code"]["coding"] if c["system"] == LOINC and c["code"] != "8716-3")
    assert {row["observation_code"] for row in rows} == {panel["code"]}
    names = {row["code"]: row["vital_sign"] for row in rows}
    assert names == {"8480-6": "systolic_blood_pressure", "8462-4": "diastolic_blood_pressure"}


def test_every_bulk_bp_observation_yields_its_two_rows(epic: ViewRunner, epic_samples: Path) -> None:
    bulk = [
        json.loads(line)
        for line in (epic_samples / "bulk-output.Observation.vital-signs.sample.ndjson")
        .read_text(encoding="utf-8")
        .splitlines()
        if line.strip()
    ]
    rows = group_by(epic.rows("vital_signs"), "id")
    for resource in bulk:
        values = {row["code"]: float(row["value"]) for row in rows[resource["id"]]}
        assert values == {
            first_coding_in(c["code"], [LOINC])["code"]: c["valueQuantity"]["value"] for c in resource["component"]
        }


def test_temperature_fahrenheit_comes_from_epics_extension(epic: ViewRunner, epic_samples: Path) -> None:
    temp = sample(epic_samples, "Observation.vital-signs.Temp.json")
    fahrenheit = next(e for e in temp["extension"] if e["url"] == FAHRENHEIT_URL)["valueQuantity"]["value"]
    celsius = temp["valueQuantity"]["value"]
    assert fahrenheit != pytest.approx(celsius * 9 / 5 + 32, abs=1e-6), "sample should distinguish source"
    (row,) = [row for row in epic.rows("vital_signs") if row["id"] == temp["id"]]
    assert float(row["temperature_fahrenheit"]) == fahrenheit
    assert float(row["temperature_celsius"]) == celsius
    assert float(row["value"]) == celsius and row["unit_code"] == "Cel"
    assert row["code"] == first_coding_in(temp["code"], [LOINC], skip_codes=("8716-3",))["code"]
    assert row["vital_sign"] == "body_temperature"


def test_temperature_without_the_extension_is_computed(epic_samples: Path, tmp_path: Path) -> None:
    temp = sample(epic_samples, "Observation.vital-signs.Temp.json")
    bare = copy.deepcopy(temp)
    bare["extension"] = [e for e in bare["extension"] if e["url"] != FAHRENHEIT_URL]
    fahrenheit_only = copy.deepcopy(bare)
    fahrenheit_only["id"] = "recorded-in-fahrenheit"
    fahrenheit_only["valueQuantity"] = {
        "value": 99.5,
        "unit": "degF",
        "system": "http://unitsofmeasure.org",
        "code": "[degF]",
    }
    write_ndjson(tmp_path, [bare, fahrenheit_only])
    rows = by_id(run_library_view("vital_signs", tmp_path))
    celsius = temp["valueQuantity"]["value"]
    assert float(rows[bare["id"]]["temperature_fahrenheit"]) == pytest.approx(celsius * 9 / 5 + 32)
    assert float(rows["recorded-in-fahrenheit"]["temperature_fahrenheit"]) == 99.5
    assert float(rows["recorded-in-fahrenheit"]["temperature_celsius"]) == pytest.approx((99.5 - 32) * 5 / 9)


@pytest.mark.parametrize(
    ("name", "vital_sign"),
    [("Observation.vital-signs.Pulse.json", "heart_rate"), ("Observation.vital-signs.Weight.json", "body_weight")],
)
def test_vital_code_skips_the_vital_signs_grouper(
    epic: ViewRunner, epic_samples: Path, name: str, vital_sign: str
) -> None:
    resource = sample(epic_samples, name)
    # Epic lists its OIDs first and the 8716-3 "Vital signs" grouper before the measurement's LOINC.
    assert resource["code"]["coding"][0]["system"].startswith(EPIC_OID_PREFIX)
    expected = first_coding_in(resource["code"], [LOINC], skip_codes=("8716-3",))
    (row,) = [row for row in epic.rows("vital_signs") if row["id"] == resource["id"]]
    assert (row["code"], row["code_system"]) == (expected["code"], LOINC)
    assert float(row["value"]) == resource["valueQuantity"]["value"]
    assert by_id(epic.rows("observation"))[resource["id"]]["code"] == expected["code"]
    assert row["vital_sign"] == vital_sign


def test_hba1c_lab_without_a_unit_keeps_its_value(epic: ViewRunner, epic_samples: Path) -> None:
    lab = sample(epic_samples, "Observation.laboratory.HbA1c.json")
    assert "unit" not in lab["valueQuantity"] and "code" not in lab["valueQuantity"]
    rows = by_id(epic.rows("lab_results"))
    row = rows[lab["id"]]
    assert row["loinc_code"] == row["code"] == first_coding_in(lab["code"], [LOINC])["code"]
    assert row["code_system"] == LOINC
    assert row["code_text"] == lab["code"]["text"]
    assert float(row["value_quantity"]) == lab["valueQuantity"]["value"]
    assert row["value_unit"] is None
    assert row["value_as_text"] is not None and float(row["value_as_text"]) == lab["valueQuantity"]["value"]
    assert row["service_request_id"] == lab["basedOn"][0]["reference"].split("/", 1)[1]
    vital_ids = {row["id"] for row in epic.rows("vital_signs")}
    assert lab["id"] not in vital_ids
    assert not set(rows) & vital_ids, "lab_results must hold only the laboratory category"


def test_lab_category_rows_keep_both_epic_categories(epic: ViewRunner, epic_samples: Path) -> None:
    lab = sample(epic_samples, "Observation.laboratory.HbA1c.json")
    rows = sorted(
        (r for r in epic.rows("observation_category") if r["observation_id"] == lab["id"]),
        key=lambda r: r["category_index"],
    )
    assert [row["category_code"] for row in rows] == [c["coding"][0]["code"] for c in lab["category"]]
    assert [row["category_system"] for row in rows] == [c["coding"][0]["system"] for c in lab["category"]]
    assert by_id(epic.rows("observation"))[lab["id"]]["category"] == "laboratory"


def test_padded_internal_identifier_is_kept_raw_and_trimmed(epic: ViewRunner, epic_samples: Path) -> None:
    patient = sample(epic_samples, "Patient.sandbox.erXuFYUfucBZaryVksYEcMg3.json")
    rows = sorted(
        (r for r in epic.rows("patient_identifier") if r["patient_id"] == patient["id"]),
        key=lambda r: r["identifier_index"],
    )
    assert [row["value"] for row in rows] == [identifier["value"] for identifier in patient["identifier"]]
    assert [row["value_trimmed"] for row in rows] == [
        identifier["value"].strip() for identifier in patient["identifier"]
    ]
    internal = next(row for row in rows if row["type_text"] == "INTERNAL")
    assert internal["value"] != internal["value_trimmed"], "the sample's INTERNAL id is space-padded"
    assert internal["value"].startswith(" ") and internal["value_trimmed"] == internal["value"].lstrip()


def test_mrn_uses_the_configured_system(epic: ViewRunner, epic_samples: Path) -> None:
    patient = sample(epic_samples, "Patient.sandbox.erXuFYUfucBZaryVksYEcMg3.json")
    shipped_system = load_view_json("patient")["constant"][0]["valueString"]
    default = next(i["value"] for i in patient["identifier"] if i["system"] == shipped_system)
    assert by_id(epic.rows("patient"))[patient["id"]]["mrn"] == default
    login = next(i for i in patient["identifier"] if i["type"]["text"] == "MYCHARTLOGIN")
    configured = by_id(run_library_view("patient", epic.directory, {"mrn_system": login["system"]}))
    assert configured[patient["id"]]["mrn"] == login["value"]
    flagged = run_library_view("patient_identifier", epic.directory, {"mrn_system": login["system"]})
    assert [row["value"] for row in flagged if row["is_mrn"]] == [login["value"]]
    internal = next(i for i in patient["identifier"] if i["type"]["text"] == "INTERNAL")
    trimmed = by_id(run_library_view("patient", epic.directory, {"mrn_system": internal["system"]}))
    # EXTERNAL and INTERNAL share one OID; the first listed wins, and mrn_trimmed drops Epic's padding.
    first = next(i["value"] for i in patient["identifier"] if i["system"] == internal["system"])
    assert trimmed[patient["id"]]["mrn"] == first
    assert trimmed[patient["id"]]["mrn_trimmed"] == first.strip()


def test_patient_demographics_from_epic_extensions(epic: ViewRunner, epic_samples: Path) -> None:
    patient = sample(epic_samples, "Patient.sandbox.erXuFYUfucBZaryVksYEcMg3.json")
    row = by_id(epic.rows("patient"))[patient["id"]]
    ext = {e["url"].rsplit("/", 1)[1]: e for e in patient["extension"]}
    assert row["race_text"] == next(e["valueString"] for e in ext["us-core-race"]["extension"] if e["url"] == "text")
    assert row["ethnicity_code"] is None
    assert row["ethnicity_text"] == ext["us-core-ethnicity"]["extension"][0]["valueString"]
    assert row["sex"] == ext["us-core-sex"]["valueCode"]
    assert row["legal_sex"] == ext["legal-sex"]["valueCodeableConcept"]["coding"][0]["code"]
    official = next(n for n in patient["name"] if n["use"] == "official")
    assert (row["name_family"], row["name_given"]) == (official["family"], " ".join(official["given"]))
    assert row["birth_date_on"] == datetime.fromisoformat(patient["birthDate"]).date()
    assert row["managing_organization_id"] == patient["managingOrganization"]["reference"].split("/", 1)[1]
    names = [r for r in epic.rows("patient_name") if r["patient_id"] == patient["id"]]
    assert sorted(r["use"] for r in names) == sorted(n["use"] for n in patient["name"])
    telecoms = [r for r in epic.rows("patient_telecom") if r["patient_id"] == patient["id"]]
    assert {(r["system"], r["value"], r["rank"]) for r in telecoms} == {
        (t["system"], t["value"], t["rank"]) for t in patient["telecom"]
    }


@pytest.mark.parametrize(
    ("name", "preferred"),
    [
        ("Condition.problem-list-item.json", "problem-list-item"),
        ("Condition.encounter-diagnosis.json", "encounter-diagnosis"),
    ],
)
def test_condition_codes_prefer_snomed_and_keep_icd10(
    epic: ViewRunner, epic_samples: Path, name: str, preferred: str
) -> None:
    condition = sample(epic_samples, name)
    row = by_id(epic.rows("condition"))[condition["id"]]
    snomed = first_coding_in(condition["code"], SNOMED)
    icd10 = first_coding_in(condition["code"], [ICD10])
    assert (row["code"], row["code_system"], row["code_display"]) == (
        snomed["code"],
        snomed["system"],
        snomed["display"],
    )
    assert (row["icd10_code"], row["icd10_display"]) == (icd10["code"], icd10["display"])
    assert row["category"] == preferred
    assert row["is_problem_list_item"] is (preferred == "problem-list-item")
    assert row["is_encounter_diagnosis"] is (preferred == "encounter-diagnosis")
    clinical = condition.get("clinicalStatus", {}).get("coding", [{}])[0].get("code")
    assert row["clinical_status"] == clinical  # None for the encounter diagnosis: Epic omits it
    assert row["recorded_date"] == condition["recordedDate"]
    assert as_utc(row["recorded_date_at"]) == datetime.fromisoformat(condition["recordedDate"]).replace(tzinfo=UTC)


def test_diagnostic_report_prefers_snomed_oid_over_epic_oid(epic: ViewRunner, epic_samples: Path) -> None:
    report = sample(epic_samples, "DiagnosticReport.lab.json")
    row = by_id(epic.rows("diagnostic_report"))[report["id"]]
    assert report["code"]["coding"][0]["system"].startswith(EPIC_OID_PREFIX)
    expected = first_coding_in(report["code"], SNOMED)
    assert (row["code"], row["code_system"]) == (expected["code"], expected["system"])
    v2 = first_coding_in(
        {"coding": [c for cat in report["category"] for c in cat["coding"]]},
        ["http://terminology.hl7.org/CodeSystem/v2-0074"],
    )
    assert row["category_code"] == v2["code"]
    links = sorted(
        (r for r in epic.rows("diagnostic_report_result") if r["diagnostic_report_id"] == report["id"]),
        key=lambda r: r["result_index"],
    )
    assert [r["observation_id"] for r in links] == [r["reference"].split("/", 1)[1] for r in report["result"]]
    assert row["result_count"] == len(report["result"])


def test_document_reference_type_and_binary_attachments(epic: ViewRunner, epic_samples: Path) -> None:
    document = sample(epic_samples, "DocumentReference.clinical-note.json")
    row = by_id(epic.rows("document_reference"))[document["id"]]
    loinc = first_coding_in(document["type"], [LOINC])
    assert document["type"]["coding"].index(loinc) > 0, "the sample lists Epic OIDs before LOINC"
    assert (row["type_code"], row["type_system"]) == (loinc["code"], LOINC)
    assert row["encounter_id"] == document["context"]["encounter"][0]["reference"].split("/", 1)[1]
    assert as_utc(row["date_at"]) == datetime.fromisoformat(document["date"])
    contents = sorted(
        (r for r in epic.rows("document_reference_content") if r["document_reference_id"] == document["id"]),
        key=lambda r: r["content_index"],
    )
    assert [(r["attachment_url"], r["content_type"]) for r in contents] == [
        (c["attachment"]["url"], c["attachment"]["contentType"]) for c in document["content"]
    ]
    assert [r["binary_id"] for r in contents] == [
        c["attachment"]["url"].split("Binary/", 1)[1] for c in document["content"]
    ]
    assert not any(r["has_inline_data"] for r in contents)


def test_immunization_cvx_and_date_only_occurrence(epic: ViewRunner, epic_samples: Path) -> None:
    immunization = sample(epic_samples, "Immunization.sandbox.json")
    row = by_id(epic.rows("immunization"))[immunization["id"]]
    cvx = first_coding_in(immunization["vaccineCode"], ["http://hl7.org/fhir/sid/cvx"])
    assert (row["vaccine_code"], row["vaccine_text"]) == (cvx["code"], immunization["vaccineCode"]["text"])
    assert row["occurrence"] == immunization["occurrenceDateTime"]
    assert as_utc(row["occurrence_at"]) == datetime.fromisoformat(immunization["occurrenceDateTime"]).replace(
        tzinfo=UTC
    )
    dose = immunization["doseQuantity"]
    assert (float(row["dose_quantity"]), row["dose_unit"], row["dose_unit_system"]) == (
        dose["value"],
        dose["unit"],
        dose["system"],
    )


def test_encounter_with_only_epic_codes_falls_back_to_the_first(epic: ViewRunner, epic_samples: Path) -> None:
    encounter = sample(epic_samples, "Encounter.sandbox.json")
    row = by_id(epic.rows("encounter"))[encounter["id"]]
    first = encounter["type"][0]["coding"][0]
    assert (row["type_code"], row["type_system"]) == (first["code"], first["system"])
    assert row["class_code"] == encounter["class"]["code"]
    assert row["identifier_value"] == encounter["identifier"][0]["value"]
    assert as_utc(row["period_start_at"]) == datetime.fromisoformat(encounter["period"]["start"])
    assert row["period_end"] is None and row["period_end_at"] is None
    assert row["location_id"] == encounter["location"][0]["location"]["reference"].split("/", 1)[1]


def test_partial_dates_become_typed_without_failing(epic_samples: Path, tmp_path: Path) -> None:
    condition = sample(epic_samples, "Condition.problem-list-item.json")
    patient = sample(epic_samples, "Patient.sandbox.erXuFYUfucBZaryVksYEcMg3.json")
    partial = []
    for index, (onset, birth) in enumerate(
        [("2019", "1987"), ("2019-04", "1987-09"), ("2019-04-09T10:30:00+02:00", "1987-09-12")]
    ):
        c = copy.deepcopy(condition) | {"id": f"c{index}", "onsetDateTime": onset}
        p = copy.deepcopy(patient) | {"id": f"p{index}", "birthDate": birth}
        partial += [c, p]
    write_ndjson(tmp_path, partial)
    conditions = by_id(run_library_view("condition", tmp_path))
    patients = by_id(run_library_view("patient", tmp_path))
    for resource in partial:
        if resource["resourceType"] == "Condition":
            row = conditions[resource["id"]]
            assert row["onset"] == resource["onsetDateTime"]
            assert as_utc(row["onset_at"]) == fhir_instant(resource["onsetDateTime"])
        else:
            row = patients[resource["id"]]
            assert row["birth_date"] == resource["birthDate"]
            assert row["birth_date_on"] == fhir_date(resource["birthDate"])
