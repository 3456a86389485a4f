"""AllergyIntolerance: coded allergens with reactions, and Epic's "No Known Allergies" entries."""

from __future__ import annotations

from collections.abc import Iterator

from epic_assets.emulator.synthetic import vocab
from epic_assets.emulator.synthetic.chart import DAY, Chart, Stream, instant, iso_date
from epic_assets.emulator.synthetic.ids import Kind
from epic_assets.emulator.synthetic.rows import Row
from epic_assets.emulator.synthetic.template import jd

CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
ALLERGEN_SYSTEM = f"{vocab.SITE}.2.767535"
CATEGORY = "http://hl7.org/fhir/allergy-intolerance-category"


def _status(system: str, code: str) -> dict:
    display = code.capitalize()
    return {"coding": [{"system": system, "version": "4.0.0", "code": code, "display": display}], "text": display}


def allergies(chart: Chart) -> Iterator[Row]:
    rng = chart.rng(Stream.ALLERGIES)
    subject = {"reference": f"Patient/{chart.patient_id}", "display": chart.display}
    recorder = {"reference": f"Practitioner/{chart.pcp.id}", "type": "Practitioner", "display": chart.pcp.display}
    roll = rng.random()
    count = 0 if roll < 0.35 else 1 if roll < 0.75 else rng.randint(2, 3)
    end = chart.record_end
    first_visit = next((visit.start for visit in chart.visits if visit.clinical), end - 30 * DAY)
    if count == 0:
        if rng.random() < 0.7:  # most charts record "No Known Allergies"; the rest have nothing at all
            recorded = instant(first_visit + 600)
            yield Row(
                jd(
                    {
                        "resourceType": "AllergyIntolerance",
                        "id": chart.ids.short(Kind.ALLERGY, chart.index, 0),
                        "clinicalStatus": _status(CLINICAL, "active"),
                        "verificationStatus": _status(VERIFICATION, "confirmed"),
                        "code": {
                            "coding": [
                                {
                                    "system": vocab.SNOMED,
                                    "code": vocab.NO_KNOWN_ALLERGIES[0],
                                    "display": vocab.NO_KNOWN_ALLERGIES[1],
                                }
                            ],
                            "text": "No Known Allergies",
                        },
                        "patient": subject,
                        "recordedDate": recorded,
                        "recorder": recorder,
                    }
                ),
                "active",
                recorded,
                (),
                ((vocab.SNOMED, vocab.NO_KNOWN_ALLERGIES[0]),),
            )
        return
    for number, allergen in enumerate(rng.sample(vocab.ALLERGENS, count)):
        status = "active" if rng.random() < 0.9 else "inactive"
        recorded_at = rng.randrange(min(first_visit, end - 2 * DAY), end - DAY)
        manifestations = rng.sample(allergen.reactions, rng.randint(1, min(2, len(allergen.reactions))))
        severe = any(code == "39579001" for code, _ in manifestations)
        resource = {
            "resourceType": "AllergyIntolerance",
            "id": chart.ids.short(Kind.ALLERGY, chart.index, number + 1),
            "clinicalStatus": _status(CLINICAL, status),
            "verificationStatus": _status(VERIFICATION, "confirmed"),
            "type": "allergy",
            "category": [allergen.category],
            "criticality": "high" if severe else "low",
            "code": {
                "coding": [
                    {"system": allergen.system, "code": allergen.code, "display": allergen.display},
                    {"system": ALLERGEN_SYSTEM, "code": allergen.epic_id, "display": allergen.text},
                ],
                "text": allergen.text,
            },
            "patient": subject,
            "onsetDateTime": iso_date(max(chart.birth, recorded_at - rng.randrange(0, 3650) * DAY)),
            "recordedDate": instant(recorded_at),
            "recorder": recorder,
            "reaction": [
                {
                    "manifestation": [
                        {"coding": [{"system": vocab.SNOMED, "code": code, "display": display}], "text": display}
                        for code, display in manifestations
                    ],
                    "severity": "severe" if severe else rng.choice(("mild", "moderate")),
                }
            ],
        }
        codes = ((allergen.system, allergen.code), (ALLERGEN_SYSTEM, allergen.epic_id))
        yield Row(jd(resource), status, instant(recorded_at), ((CATEGORY, allergen.category),), codes)
