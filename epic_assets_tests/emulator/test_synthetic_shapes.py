"""Generated resources look like the captured Epic sandbox payloads and reference each other consistently."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from epic_assets.emulator import synthetic

PATIENTS = 60
SEED = 17
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SITE_OID = "urn:oid:1.2.840.114350.1.13.0.1.7."


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    out = tmp_path_factory.mktemp("synthetic")
    written = synthetic.write_export(synthetic.SUPPORTED_TYPES, PATIENTS, SEED, out, max_per_file=1000)
    return {
        resource_type: [json.loads(line) for path in paths for line in path.read_text(encoding="utf-8").splitlines()]
        for resource_type, paths in written.items()
    }


def json_paths(value: Any, prefix: str = "") -> set[str]:
    """Every member path in a JSON value, list positions collapsed (``code.coding[].system``)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, child in value.items():
            path = f"{prefix}.{key}" if prefix else key
            found.add(path)
            found |= json_paths(child, path)
    elif isinstance(value, list):
        for child in value:
            found |= json_paths(child, prefix + "[]")
    return found


def coding_codes(concept: dict) -> list[str]:
    return [coding["code"] for coding in concept.get("coding", [])]


def category_codes(resource: dict) -> set[str]:
    return {code for category in resource.get("category", []) for code in coding_codes(category)}


def _is_code(text: str) -> Callable[[dict], bool]:
    return lambda resource: resource["code"]["text"] == text


def _is_category(code: str) -> Callable[[dict], bool]:
    return lambda resource: resource["category"][0]["coding"][0]["code"] == code


def _any(_: dict) -> bool:
    return True


def _concept(path: str, *coding_members: str) -> set[str]:
    """The member paths of a CodeableConcept at ``path`` (``text`` plus each coding member)."""
    members = coding_members or ("system", "code", "display")
    return {path, f"{path}.text", f"{path}.coding", *(f"{path}.coding[].{member}" for member in members)}


# sample file -> (type, which generated resources to compare, paths we add that the one sample lacks)
SAMPLE_SHAPES: dict[str, tuple[str, Callable[[dict], bool], set[str]]] = {
    "Patient.sandbox.erXuFYUfucBZaryVksYEcMg3.json": (
        "Patient",
        _any,
        {"address[].period.end", "deceasedDateTime", "name[].suffix"},  # "McGinnis, Warren James III" in samples
    ),
    "Encounter.sandbox.json": (
        "Encounter",
        _any,
        {
            "period.end",
            "reasonCode",
            *_concept("reasonCode[]"),
            "diagnosis",
            *(f"diagnosis[].{path}" for path in ("condition", "condition.reference", "condition.display", "rank")),
            "hospitalization",
            *_concept("hospitalization.admitSource"),
            *_concept("hospitalization.dischargeDisposition"),
        },
    ),
    "Observation.vital-signs.BP.json": ("Observation", _is_code("BP"), set()),
    "Observation.vital-signs.Temp.json": ("Observation", _is_code("Temp"), set()),
    "Observation.vital-signs.Pulse.json": ("Observation", _is_code("Pulse"), set()),
    "Observation.vital-signs.Weight.json": ("Observation", _is_code("Weight"), set()),
    "Observation.laboratory.HbA1c.json": (
        "Observation",
        _is_code("Hemoglobin A1C"),
        # flagged results, and components the lab did not perform
        {"interpretation", *_concept("interpretation[]"), *_concept("dataAbsentReason")} - {"interpretation[].text"},
    ),
    "Condition.problem-list-item.json": ("Condition", _is_category("problem-list-item"), {"abatementDateTime"}),
    "Condition.encounter-diagnosis.json": (
        "Condition",
        _is_category("encounter-diagnosis"),
        _concept("clinicalStatus", "system", "version", "code", "display"),
    ),
    "Immunization.sandbox.json": ("Immunization", _any, set()),
    "DiagnosticReport.lab.json": ("DiagnosticReport", _any, set()),
    "DocumentReference.clinical-note.json": ("DocumentReference", _any, set()),
}


@pytest.mark.parametrize("sample_name", sorted(SAMPLE_SHAPES))
def test_generated_resources_have_the_member_paths_of_the_epic_sample(
    epic_samples: Path, export: dict[str, list[dict]], sample_name: str
) -> None:
    resource_type, selects, documented_extras = SAMPLE_SHAPES[sample_name]
    sample = json.loads((epic_samples / sample_name).read_text(encoding="utf-8"))
    generated = [resource for resource in export[resource_type] if selects(resource)]
    assert generated, f"no generated {resource_type} comparable to {sample_name}"
    ours: set[str] = set().union(*(json_paths(resource) for resource in generated))
    theirs = json_paths(sample)
    assert theirs - ours == set(), "sample members we never produce"
    assert ours - theirs <= documented_extras, "members we produce that the sample lacks"


@pytest.mark.parametrize("sample_name", sorted(SAMPLE_SHAPES))
def test_top_level_members_come_in_the_samples_order(
    epic_samples: Path, export: dict[str, list[dict]], sample_name: str
) -> None:
    resource_type, selects, _ = SAMPLE_SHAPES[sample_name]
    sample_order = list(json.loads((epic_samples / sample_name).read_text(encoding="utf-8")))
    for resource in (r for r in export[resource_type] if selects(r)):
        shared = [key for key in resource if key in sample_order]
        assert shared == [key for key in sample_order if key in resource], resource["id"]


def test_vital_sign_ndjson_sample_codings_are_reproduced(epic_samples: Path, export: dict[str, list[dict]]) -> None:
    sample = json.loads(
        (epic_samples / "bulk-output.Observation.vital-signs.sample.ndjson").read_text().splitlines()[0]
    )
    ours = next(obs for obs in export["Observation"] if obs["code"]["text"] == "BP")
    assert ours["code"] == sample["code"]
    assert ours["category"] == sample["category"]
    assert ours["extension"] == sample["extension"]


def test_no_resource_has_meta(export: dict[str, list[dict]]) -> None:
    assert not [r["id"] for resources in export.values() for r in resources if "meta" in r]


def test_volumes_per_patient_are_realistic(export: dict[str, list[dict]]) -> None:
    per_patient = {resource_type: len(resources) / PATIENTS for resource_type, resources in export.items()}
    assert per_patient["Patient"] == 1
    assert 5 <= per_patient["Encounter"] <= 15
    assert 20 <= per_patient["Observation"] <= 150
    for resource_type in ("Condition", "Immunization", "DiagnosticReport", "DocumentReference", "Procedure"):
        assert per_patient[resource_type] >= 1, resource_type
    encounters_per_patient = Counter(e["subject"]["reference"] for e in export["Encounter"])
    assert min(encounters_per_patient.values()) >= 5 and max(encounters_per_patient.values()) <= 15
    assert len(set(encounters_per_patient.values())) > 3  # varied, not one fixed count


def test_ids_are_unique_epic_style_and_a_few_exceed_64_characters(export: dict[str, list[dict]]) -> None:
    ids = [(t, r["id"]) for t, resources in export.items() for r in resources]
    assert len(set(ids)) == len(ids)
    lengths = Counter(len(fhir_id) for _, fhir_id in ids)
    assert set(lengths) <= {24, 45, 67}
    long_share = lengths[67] / len(ids)
    assert 0 < long_share < 0.05
    assert all(
        set(fhir_id) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-") for _, fhir_id in ids
    )


# ---------------------------------------------------------------- Patient


def _identifiers(patient: dict) -> dict[str, dict]:
    return {identifier["type"]["text"]: identifier for identifier in patient["identifier"]}


def test_patient_identifiers_follow_epics_layout(epic_samples: Path, export: dict[str, list[dict]]) -> None:
    sample = json.loads((epic_samples / "Patient.sandbox.erXuFYUfucBZaryVksYEcMg3.json").read_text(encoding="utf-8"))
    sample_order = [identifier["type"]["text"] for identifier in sample["identifier"]]
    for patient in export["Patient"]:
        order = [identifier["type"]["text"] for identifier in patient["identifier"]]
        assert order == [text for text in sample_order if text in order]
        by_type = _identifiers(patient)
        assert {"CEID", "EPIC", "EXTERNAL", "FHIR", "FHIR STU3", "INTERNAL", "EPI", "WPRINTERNAL"} <= set(by_type)
        internal = by_type["INTERNAL"]["value"]
        assert len(internal) == 10 and internal.startswith(" ") and internal.strip() == by_type["EXTERNAL"]["value"]
        assert by_type["FHIR STU3"]["value"] == patient["id"]
        assert by_type["EPI"]["value"].isdigit()
        site_systems = [i["system"] for i in patient["identifier"] if i["system"].startswith("urn:oid:")]
        assert site_systems and all(system.startswith(SITE_OID) for system in site_systems)
    mrns = [_identifiers(p)["EPI"]["value"] for p in export["Patient"]]
    assert len(set(mrns)) == len(mrns)


def test_patients_carry_epic_and_us_core_extensions_and_varied_demographics(export: dict[str, list[dict]]) -> None:
    patients = export["Patient"]
    for patient in patients:
        urls = [extension["url"] for extension in patient["extension"]]
        assert urls[:2] == [
            "http://open.epic.com/FHIR/StructureDefinition/extension/legal-sex",
            "http://open.epic.com/FHIR/StructureDefinition/extension/sex-for-clinical-use",
        ]
        assert "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race" in urls
        assert "http://hl7.org/fhir/us/core/StructureDefinition/us-core-sex" in urls
        assert [name["use"] for name in patient["name"]] == ["official", "usual"]
        assert patient["gender"] in {"female", "male", "unknown"}
    races = [next(e for e in p["extension"] if e["url"].endswith("us-core-race")) for p in patients]
    assert any(len(race["extension"]) == 1 for race in races), "some races are text only"
    assert any(len(race["extension"]) == 2 for race in races)
    assert {p["gender"] for p in patients} >= {"female", "male"}
    old = [a for p in patients for a in p["address"] if a["use"] == "old"]
    assert old and all("end" in address["period"] for address in old)
    assert len({p["birthDate"][:4] for p in patients}) > 20


def test_some_patients_are_deceased(export: dict[str, list[dict]]) -> None:
    many = list(synthetic.iter_resources("Patient", 300, SEED))
    deceased = [p for p in many if "deceasedDateTime" in p]
    assert 0 < len(deceased) < 30
    assert all(p["deceasedBoolean"] is False for p in many if "deceasedDateTime" not in p)


# ---------------------------------------------------------------- Observation


def _observations(export: dict[str, list[dict]], text: str) -> list[dict]:
    return [obs for obs in export["Observation"] if obs["code"]["text"] == text]


def test_blood_pressure_is_one_observation_with_two_components(export: dict[str, list[dict]]) -> None:
    readings = _observations(export, "BP")
    assert readings
    for bp in readings:
        assert "valueQuantity" not in bp
        systolic, diastolic = bp["component"]
        assert coding_codes(systolic["code"]) == ["8480-6"] and coding_codes(diastolic["code"]) == ["8462-4"]
        for component in (systolic, diastolic):
            assert component["valueQuantity"]["unit"] == component["valueQuantity"]["code"] == "mm[Hg]"
        assert 60 < systolic["valueQuantity"]["value"] < 220 and 30 < diastolic["valueQuantity"]["value"] < 140
        assert coding_codes(bp["code"])[0] == "5"  # the flowsheet row comes before LOINC


def test_temperature_is_celsius_with_epics_fahrenheit_extension(export: dict[str, list[dict]]) -> None:
    for temp in _observations(export, "Temp"):
        assert temp["valueQuantity"]["unit"] == temp["valueQuantity"]["code"] == "Cel"
        fahrenheit = temp["extension"][0]
        assert fahrenheit["url"] == "http://open.epic.com/FHIR/STU3/StructureDefinition/temperature-in-fahrenheit"
        assert fahrenheit["valueQuantity"]["code"] == "[degF]"
        converted = (fahrenheit["valueQuantity"]["value"] - 32) * 5 / 9
        assert abs(converted - temp["valueQuantity"]["value"]) <= 0.051


def test_vitals_cover_the_usual_flowsheet_rows_with_loinc_not_always_first(export: dict[str, list[dict]]) -> None:
    vitals = [obs for obs in export["Observation"] if "vital-signs" in category_codes(obs)]
    assert {obs["code"]["text"] for obs in vitals} >= {"BP", "Temp", "Pulse", "Weight", "Height", "BMI"}
    pulse = _observations(export, "Pulse")[0]
    loinc = [c["code"] for c in pulse["code"]["coding"] if c["system"] == LOINC]
    assert loinc == ["8716-3", "8867-4"]  # the panel code precedes heart rate, as in the sandbox


def test_labs_have_two_categories_loinc_and_epic_codes_and_some_have_no_unit(export: dict[str, list[dict]]) -> None:
    labs = [obs for obs in export["Observation"] if "laboratory" in category_codes(obs)]
    assert labs
    for lab in labs:
        assert category_codes(lab) == {"laboratory", "Lab"}
        systems = [coding["system"] for coding in lab["code"]["coding"]]
        assert systems[-1] == "urn:oid:1.2.840.114350.1.13.0.1.7.2.768282"
    unitless = [lab for lab in labs if "valueQuantity" in lab and "unit" not in lab["valueQuantity"]]
    strings = [lab for lab in labs if "valueString" in lab]
    with_range = [lab for lab in labs if "referenceRange" in lab]
    flagged = [lab for lab in labs if "interpretation" in lab]
    assert unitless and strings and with_range and flagged
    hba1c = _observations(export, "Hemoglobin A1C")
    assert hba1c and all(set(obs["valueQuantity"]) == {"value"} for obs in hba1c if "dataAbsentReason" not in obs)
    assert any(len(lab["effectiveDateTime"]) == 10 for lab in labs) or len(labs) < 200  # a few date-only labs


def test_smoking_status_is_social_history_with_a_snomed_value(export: dict[str, list[dict]]) -> None:
    social = [obs for obs in export["Observation"] if "social-history" in category_codes(obs)]
    assert 0 < len(social) <= PATIENTS
    for obs in social:
        assert coding_codes(obs["code"]) == ["72166-2"]
        assert obs["valueCodeableConcept"]["coding"][0]["system"] == "http://snomed.info/sct"
        assert obs["encounter"]["display"] == "Office Visit"
    assert len({obs["valueCodeableConcept"]["text"] for obs in social}) > 1


# ---------------------------------------------------------------- other types


def test_conditions_stack_code_systems_and_diagnoses_mostly_lack_clinical_status(export: dict[str, list[dict]]) -> None:
    systems = {
        "http://hl7.org/fhir/sid/icd-10-cm",
        "http://snomed.info/sct",
        "http://hl7.org/fhir/sid/icd-9-cm",
    }
    problems = [c for c in export["Condition"] if "problem-list-item" in category_codes(c)]
    diagnoses = [c for c in export["Condition"] if "encounter-diagnosis" in category_codes(c)]
    assert problems and diagnoses
    for condition in problems:
        assert "clinicalStatus" in condition and "verificationStatus" in condition
        assert {coding["system"] for coding in condition["code"]["coding"]} >= systems
    without_status = [c for c in diagnoses if "clinicalStatus" not in c]
    assert len(without_status) > len(diagnoses) / 2
    assert all("encounter" in c for c in diagnoses)


def test_immunizations_have_cvx_text_and_epic_dose_units(export: dict[str, list[dict]]) -> None:
    for immunization in export["Immunization"]:
        coding = immunization["vaccineCode"]["coding"]
        assert coding[0]["system"] == "http://hl7.org/fhir/sid/cvx" and immunization["vaccineCode"]["text"]
        assert immunization["doseQuantity"]["system"].startswith(SITE_OID)
        assert immunization["status"] == "completed"
        assert immunization["occurrenceDateTime"][:4].isdigit()


def test_medication_requests_use_reference_or_concept_with_rxnorm_and_full_dosage(
    export: dict[str, list[dict]],
) -> None:
    requests = export["MedicationRequest"]
    by_reference = [r for r in requests if "medicationReference" in r]
    inline = [r for r in requests if "medicationCodeableConcept" in r]
    assert by_reference and inline and len(by_reference) + len(inline) == len(requests)
    for request in inline:
        systems = [coding["system"] for coding in request["medicationCodeableConcept"]["coding"]]
        assert "http://www.nlm.nih.gov/research/umls/rxnorm" in systems and systems[-1].startswith(SITE_OID)
    for request in requests:
        dosage = request["dosageInstruction"][0]
        assert {"timing", "route", "doseAndRate", "text"} <= set(dosage)
        assert request["intent"] == "order" and request["status"] in {"active", "completed", "stopped"}
        assert request["authoredOn"] and request["requester"]["reference"].startswith("Practitioner/")


def test_allergies_have_reactions_or_say_no_known_allergies(export: dict[str, list[dict]]) -> None:
    allergies = export["AllergyIntolerance"]
    no_known = [a for a in allergies if a["code"]["text"] == "No Known Allergies"]
    coded = [a for a in allergies if a not in no_known]
    assert no_known and coded
    for allergy in coded:
        reaction = allergy["reaction"][0]
        assert reaction["manifestation"] and reaction["severity"] in {"mild", "moderate", "severe"}
        assert allergy["clinicalStatus"]["coding"][0]["code"] in {"active", "inactive"}
    assert all("reaction" not in a for a in no_known)


def test_procedures_are_coded_and_timed(export: dict[str, list[dict]]) -> None:
    procedures = export["Procedure"]
    assert any("performedPeriod" in p for p in procedures) and any("performedDateTime" in p for p in procedures)
    for procedure in procedures:
        assert procedure["status"] == "completed" and procedure["encounter"]["reference"].startswith("Encounter/")
        systems = {coding["system"] for coding in procedure["code"]["coding"]}
        assert "http://snomed.info/sct" in systems


def test_document_references_point_at_binaries_without_inline_data(export: dict[str, list[dict]]) -> None:
    for document in export["DocumentReference"]:
        types = [content["attachment"]["contentType"] for content in document["content"]]
        assert types[0] == "text/html" and set(types) <= {"text/html", "text/rtf"}
        for content in document["content"]:
            assert set(content["attachment"]) == {"contentType", "url"}
            assert content["attachment"]["url"].startswith("Binary/")
    assert any(len(document["content"]) == 2 for document in export["DocumentReference"])


# ---------------------------------------------------------------- references and binaries


def test_every_reference_to_an_exported_type_resolves(export: dict[str, list[dict]]) -> None:
    exported = {f"{t}/{r['id']}" for t, resources in export.items() for r in resources}
    checked = 0
    for resources in export.values():
        for resource in resources:
            for reference in _references(resource):
                if reference.split("/", 1)[0] in synthetic.SUPPORTED_TYPES:
                    assert reference in exported, (resource["id"], reference)
                    checked += 1
    assert checked > 1000


def _references(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return found + [ref for child in value.values() for ref in _references(child)]
    if isinstance(value, list):
        return [ref for child in value for ref in _references(child)]
    return []


def test_clinical_resources_point_at_their_own_patients_encounters(export: dict[str, list[dict]]) -> None:
    encounter_patient = {f"Encounter/{e['id']}": e["subject"]["reference"] for e in export["Encounter"]}
    for resource_type in ("Observation", "Condition", "DiagnosticReport", "Procedure", "MedicationRequest"):
        for resource in export[resource_type]:
            if "encounter" in resource:
                assert encounter_patient[resource["encounter"]["reference"]] == resource["subject"]["reference"]


def test_diagnostic_report_results_are_lab_observations_of_the_same_order(export: dict[str, list[dict]]) -> None:
    observations = {obs["id"]: obs for obs in export["Observation"]}
    assert export["DiagnosticReport"]
    for report in export["DiagnosticReport"]:
        for result in report["result"]:
            observation = observations[result["reference"].removeprefix("Observation/")]
            assert "laboratory" in category_codes(observation)
            assert observation["basedOn"][0]["reference"] == report["basedOn"][0]["reference"]
            assert observation["subject"] == report["subject"]


def test_every_document_binary_renders_as_html_or_rtf(export: dict[str, list[dict]]) -> None:
    for document in export["DocumentReference"]:
        for content in document["content"]:
            binary_id = content["attachment"]["url"].removeprefix("Binary/")
            rendered = synthetic.render_binary(binary_id, SEED)
            assert rendered is not None, binary_id
            content_type, body = rendered
            assert content_type == content["attachment"]["contentType"]
            if content_type == "text/html":
                assert body.startswith(b"<html>") and body.decode("utf-8").endswith("</html>")
            else:
                assert body.startswith(b"{\\rtf1") and body.endswith(b"}")
                body.decode("ascii")  # RTF is 7-bit; non-ASCII characters are \\u escapes


def test_render_binary_is_deterministic_and_refuses_foreign_ids(export: dict[str, list[dict]]) -> None:
    binary_id = export["DocumentReference"][0]["content"][0]["attachment"]["url"].removeprefix("Binary/")
    assert synthetic.render_binary(binary_id, SEED) == synthetic.render_binary(binary_id, SEED)
    assert synthetic.render_binary(binary_id, SEED + 1) is None  # another seed never produced it
    assert synthetic.render_binary(export["DocumentReference"][0]["id"], SEED) is None  # not a Binary
    assert synthetic.render_binary(export["Patient"][0]["id"], SEED) is None
    assert synthetic.render_binary("evnYG4h4ujlzYmls9SaaMsw3", SEED) is None  # the sandbox's, not ours
    assert synthetic.render_binary("not an id", SEED) is None
    assert synthetic.render_binary(binary_id[:-1] + "4", SEED) is None
    assert synthetic.render_binary(binary_id, SEED, patients=0) is None  # outside the Group's patients
