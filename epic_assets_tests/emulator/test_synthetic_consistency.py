"""The synthetic charts tell a coherent story: timelines, statuses, per-seed variety, Epic id habits."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from epic_assets.emulator import synthetic
from epic_assets.emulator.synthetic.ids import IdFactory, Kind

PATIENTS = 80
SEED = 23
TODAY = "2026-04-26"  # the generator's fixed "today"


@pytest.fixture(scope="module")
def data() -> dict[str, list[dict]]:
    return {name: list(synthetic.iter_resources(name, PATIENTS, SEED)) for name in synthetic.SUPPORTED_TYPES}


def _by_patient(resources: list[dict], field: str = "subject") -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = defaultdict(list)
    for resource in resources:
        grouped[resource[field]["reference"]].append(resource)
    return grouped


_DATED = [  # (type, patient reference member, main date member)
    ("Observation", "subject", "effectiveDateTime"),
    ("Condition", "subject", "recordedDate"),
    ("Condition", "subject", "abatementDateTime"),
    ("Immunization", "patient", "occurrenceDateTime"),
    ("MedicationRequest", "subject", "authoredOn"),
    ("DiagnosticReport", "subject", "effectiveDateTime"),
    ("AllergyIntolerance", "patient", "recordedDate"),
    ("Procedure", "subject", "performedDateTime"),
    ("DocumentReference", "subject", "date"),
]


def _check_lifetimes(patients: list[dict], data: dict[str, list[dict]]) -> int:
    by_reference = {f"Patient/{p['id']}": p for p in patients}
    checked = 0
    for resource_type, subject_field, date_field in _DATED:
        for resource in data[resource_type]:
            if date_field not in resource:
                continue
            patient = by_reference[resource[subject_field]["reference"]]
            last = patient.get("deceasedDateTime", TODAY)[:10]
            assert patient["birthDate"] <= resource[date_field][:10] <= last, (resource_type, resource["id"])
            checked += 1
    return checked


def test_nothing_clinical_happens_before_birth_or_after_today(data: dict[str, list[dict]]) -> None:
    assert _check_lifetimes(data["Patient"], data) > 3000


def test_nothing_is_charted_after_death() -> None:
    patients = list(synthetic.iter_resources("Patient", 400, 5))
    deceased = [index for index, patient in enumerate(patients) if "deceasedDateTime" in patient]
    assert len(deceased) >= 3
    wanted = {f"Patient/{patients[index]['id']}" for index in deceased}
    data: dict[str, list[dict]] = {}
    for resource_type, subject_field, _ in _DATED:
        data[resource_type] = [
            r for r in synthetic.iter_resources(resource_type, 400, 5) if r[subject_field]["reference"] in wanted
        ]
    assert _check_lifetimes([patients[index] for index in deceased], data) > 50
    for index in deceased:
        patient = patients[index]
        starts = [address["period"]["start"] for address in patient["address"]]
        assert all(patient["birthDate"] <= start <= patient["deceasedDateTime"] for start in starts)
    stays = [e for e in synthetic.iter_resources("Encounter", 400, 5) if e["subject"]["reference"] in wanted]
    assert all(e["status"] != "planned" for e in stays)
    active = [m for m in data["MedicationRequest"] if m["status"] == "active"]
    assert not active, "a dead patient has no active prescriptions"


def test_future_and_cancelled_visits_carry_no_clinical_data(data: dict[str, list[dict]]) -> None:
    not_happened = {f"Encounter/{e['id']}" for e in data["Encounter"] if e["status"] != "finished"}
    assert not_happened, "expected some planned or cancelled encounters"
    assert all(e["period"]["start"][:10] > TODAY for e in data["Encounter"] if e["status"] == "planned")
    for resource_type in ("Observation", "Condition", "Procedure", "MedicationRequest", "DiagnosticReport"):
        for resource in data[resource_type]:
            assert resource.get("encounter", {}).get("reference") not in not_happened
    for document in data["DocumentReference"]:
        assert document["context"]["encounter"][0]["reference"] not in not_happened


def test_emergencies_are_never_booked_ahead_or_cancelled(data: dict[str, list[dict]]) -> None:
    unscheduled = [e for e in data["Encounter"] if e["type"][0]["text"] in {"Emergency", "Hospital Encounter"}]
    assert unscheduled and all(e["status"] == "finished" for e in unscheduled)
    finished = [e for e in data["Encounter"] if e["status"] == "finished"]
    assert all(e["period"]["start"] < e["period"]["end"] <= TODAY for e in finished)
    for encounter in finished:
        hospital = encounter["type"][1]["text"] == "Hospital Encounter"
        assert ("hospitalization" in encounter) == hospital, encounter["id"]
        if hospital:
            assert {"admitSource", "dischargeDisposition"} <= set(encounter["hospitalization"])


def test_surgical_cases_repeat_their_operating_room_like_the_sandbox(data: dict[str, list[dict]]) -> None:
    surgeries = [e for e in data["Encounter"] if e["type"][0]["text"] == "Surgery Admit"]
    assert surgeries
    for surgery in surgeries:
        references = [entry["location"]["reference"] for entry in surgery["location"]]
        assert len(references) == 3 and references[0] == references[1] != references[2]


def test_encounters_list_exactly_the_diagnoses_that_point_back_at_them(data: dict[str, list[dict]]) -> None:
    listed = {
        (f"Encounter/{e['id']}", entry["condition"]["reference"])
        for e in data["Encounter"]
        for entry in e.get("diagnosis", [])
    }
    pointing_back = {
        (c["encounter"]["reference"], f"Condition/{c['id']}") for c in data["Condition"] if "encounter" in c
    }
    assert listed and listed == pointing_back
    for encounter in data["Encounter"]:
        ranks = [entry["rank"] for entry in encounter.get("diagnosis", [])]
        assert ranks == list(range(1, len(ranks) + 1))


def test_encounters_of_a_patient_are_in_time_order_with_unique_csns(data: dict[str, list[dict]]) -> None:
    for encounters in _by_patient(data["Encounter"]).values():
        starts = [e["period"]["start"] for e in encounters]
        assert starts == sorted(starts)
    csns = [e["identifier"][0]["value"] for e in data["Encounter"]]
    assert len(set(csns)) == len(csns)


def test_order_and_record_numbers_are_unique_across_patients(data: dict[str, list[dict]]) -> None:
    for resource_type in ("Immunization", "MedicationRequest", "Procedure", "DiagnosticReport", "DocumentReference"):
        values = [r["identifier"][0]["value"] for r in data[resource_type]]
        assert len(set(values)) == len(values), resource_type


def test_a_visit_gives_at_most_one_dose_of_a_vaccine(data: dict[str, list[dict]]) -> None:
    given = Counter(
        (i["encounter"]["reference"], i["vaccineCode"]["coding"][0]["code"])
        for i in data["Immunization"]
        if "encounter" in i
    )
    assert given and max(given.values()) == 1


def test_lab_values_are_plausible_and_flags_agree_with_the_reference_range(data: dict[str, list[dict]]) -> None:
    checked = 0
    for obs in data["Observation"]:
        if "referenceRange" not in obs or "dataAbsentReason" in obs:
            continue
        value = obs["valueQuantity"]["value"]
        low = obs["referenceRange"][0].get("low", {}).get("value")
        high = obs["referenceRange"][0].get("high", {}).get("value")
        flag = obs.get("interpretation", [{"coding": [{"code": "N"}]}])[0]["coding"][0]["code"]
        expected = "H" if high is not None and value > high else "L" if low is not None and value < low else "N"
        assert flag == expected, obs["id"]
        assert value > 0
        checked += 1
    assert checked > 100


def test_a_few_lab_components_were_not_performed_and_carry_a_reason_instead_of_a_value() -> None:
    labs = list(synthetic.iter_resources("Observation", 200, SEED, type_filters=["category=laboratory"]))
    absent = [obs for obs in labs if "dataAbsentReason" in obs]
    assert 0 < len(absent) < len(labs) * 0.05
    for obs in absent:
        assert obs["status"] == "cancelled"
        assert not [key for key in obs if key.startswith("value")] and "interpretation" not in obs
        assert obs["dataAbsentReason"]["coding"][0]["code"] == "not-performed"
    cancelled = list(synthetic.iter_resources("Observation", 200, SEED, type_filters=["status=cancelled"]))
    assert cancelled == absent


def test_a_few_vital_signs_were_entered_in_error(data: dict[str, list[dict]]) -> None:
    vitals = [obs for obs in data["Observation"] if obs["category"][0]["coding"][0]["code"] == "vital-signs"]
    struck = [obs for obs in vitals if obs["status"] == "entered-in-error"]
    assert 0 < len(struck) < len(vitals) / 50
    assert {obs["status"] for obs in vitals} == {"final", "entered-in-error"}


def test_results_below_the_reporting_limit_use_a_comparator() -> None:
    tsh = list(synthetic.iter_resources("Observation", 400, SEED, type_filters=["code=http://loinc.org|3016-3"]))
    below = [obs for obs in tsh if "comparator" in obs.get("valueQuantity", {})]
    assert below and len(below) < len(tsh) / 4
    for obs in below:
        assert obs["valueQuantity"]["comparator"] == "<" and obs["valueQuantity"]["value"] == 0.3
        assert list(obs["valueQuantity"]) == ["value", "comparator", "unit", "system", "code"]
        assert obs["interpretation"][0]["coding"][0]["code"] == "L"


def test_volumes_vary_with_the_seed() -> None:
    counts = {
        seed: Counter(name for name in synthetic.SUPPORTED_TYPES for _ in synthetic.iter_resources(name, 10, seed))
        for seed in (1, 2, 3)
    }
    assert len({tuple(sorted(c.items())) for c in counts.values()}) == 3
    assert all(c["Patient"] == 10 for c in counts.values())


def test_observation_ids_of_a_patient_share_a_prefix_like_epics(data: dict[str, list[dict]]) -> None:
    for observations in list(_by_patient(data["Observation"]).values())[:10]:
        prefixes = {obs["id"][:22] for obs in observations}
        assert len(prefixes) == 1
        assert len({obs["id"] for obs in observations}) == len(observations)
    all_prefixes = {obs["id"][:22] for obs in data["Observation"]}
    assert len(all_prefixes) == PATIENTS


def test_ids_decode_to_what_they_name_and_only_for_their_seed() -> None:
    factory = IdFactory(SEED)
    for kind, patient, item in [(Kind.PATIENT, 0, 0), (Kind.OBSERVATION, 12345, 777), (Kind.BINARY, 3, 9)]:
        for form in (factory.short, factory.long_form):
            fhir_id = form(kind, patient, item)
            decoded = factory.decode(fhir_id)
            assert decoded is not None and (decoded.kind, decoded.patient, decoded.item) == (kind, patient, item)
            assert IdFactory(SEED + 1).decode(fhir_id) is None
    with pytest.raises(ValueError, match="out of range"):
        factory.short(Kind.PATIENT, -1)


def test_rtf_bodies_escape_non_ascii_names() -> None:
    # Scan enough patients to meet an accented name (the name pools include José, Zoë, Pérez ...).
    for document in synthetic.iter_resources("DocumentReference", 150, 4):
        if not any(ord(ch) > 127 for ch in document["subject"]["display"]):
            continue
        rtf = [c for c in document["content"] if c["attachment"]["contentType"] == "text/rtf"]
        if not rtf:
            continue
        _, body = synthetic.render_binary(rtf[0]["attachment"]["url"].removeprefix("Binary/"), 4) or ("", b"")
        assert b"\\u" in body and body.isascii()
        return
    pytest.fail("no RTF note for a patient with a non-ASCII name in 150 patients")


def test_html_bodies_escape_markup_and_name_the_patient() -> None:
    document = next(synthetic.iter_resources("DocumentReference", 3, 9))
    _, body = synthetic.render_binary(document["content"][0]["attachment"]["url"].removeprefix("Binary/"), 9) or (
        "",
        b"",
    )
    text = body.decode("utf-8")
    assert document["type"]["text"].replace("&", "&amp;") in text
    assert f"Patient: {document['subject']['display']}".replace("'", "&#x27;") in text


def test_encounter_filters_use_fhir_parameter_names() -> None:
    emergencies = list(synthetic.iter_resources("Encounter", 30, 3, type_filters=["class=EMER"]))
    assert emergencies and all(e["class"]["code"] == "EMER" for e in emergencies)
    visits = list(synthetic.iter_resources("Encounter", 30, 3, type_filters=["type=Office Visit,101"]))
    assert visits and all(e["type"][0]["coding"][0]["code"] == "101" for e in visits)
    with pytest.raises(ValueError, match="'code'"):
        synthetic.check_type_filters(["Encounter"], {"Encounter": ["code=101"]})


def test_procedure_category_filter_matches_the_category_coding() -> None:
    surgical = list(
        synthetic.iter_resources("Procedure", 100, 3, type_filters=["category=http://snomed.info/sct|387713003"])
    )
    everything = list(synthetic.iter_resources("Procedure", 100, 3))
    assert surgical == [p for p in everything if p["category"]["coding"][0]["code"] == "387713003"]
    assert 0 < len(surgical) < len(everything)


def test_check_type_filters_rejects_what_write_export_would() -> None:
    synthetic.check_type_filters(["Observation", "Condition"], {"observation": ["category=laboratory"]})
    synthetic.check_type_filters(["Patient"], None)
    with pytest.raises(ValueError, match="'bogus'"):
        synthetic.check_type_filters(["Observation"], {"Observation": ["bogus=1"]})
    with pytest.raises(ValueError, match="Condition"):
        synthetic.check_type_filters(["Observation"], {"Condition": ["category=x"]})
    with pytest.raises(ValueError, match="Medication'"):
        synthetic.check_type_filters(["Medication"], None)


def test_bmi_agrees_with_the_weight_and_height_measured_at_the_same_visit(data: dict[str, list[dict]]) -> None:
    by_visit: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for obs in data["Observation"]:
        if obs["code"]["text"] in {"Weight", "Height", "BMI"}:
            by_visit[(obs["encounter"]["reference"], obs["effectiveDateTime"][:16])][obs["code"]["text"]] = obs[
                "valueQuantity"
            ]["value"]
    complete = [v for v in by_visit.values() if len(v) == 3]
    assert len(complete) > 20
    for visit in complete:
        assert abs(visit["Weight"] / (visit["Height"] / 100) ** 2 - visit["BMI"]) < 0.1
        assert 40 < visit["Height"] < 215 and 2 < visit["Weight"] < 250
