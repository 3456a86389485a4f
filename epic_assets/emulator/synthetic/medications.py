"""MedicationRequests: long-term prescriptions for chronic problems and short courses at visits.

Epic R4 usually references a Medication resource; some requests carry the drug inline as
``medicationCodeableConcept`` (RxNorm codes plus Epic's medication id). Dosage follows Epic's layout:
free-text sig, timing, route with an Epic and a SNOMED coding, and "calculated"/"ordered" doseAndRate.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from functools import cache

from epic_assets.emulator.synthetic import vocab
from epic_assets.emulator.synthetic.chart import AS_OF, DAY, Chart, Stream, Visit, instant, iso_date
from epic_assets.emulator.synthetic.encounters import practitioner_reference_json
from epic_assets.emulator.synthetic.ids import Kind, fixed_id
from epic_assets.emulator.synthetic.rows import Row, Token
from epic_assets.emulator.synthetic.template import Template, jd, js, slot

MEDICATION_ID_SYSTEM = f"{vocab.SITE}.2.698288"
ROUTE_SYSTEM = f"{vocab.SITE}.4.798268.7025"
DOSE_RATE_TYPE = "http://epic.com/CodeSystem/dose-rate-type"
CATEGORY = "http://terminology.hl7.org/CodeSystem/medicationrequest-category"
_DRUG_FOR = {
    "I10": ("6918", "17767"),
    "E11.9": ("10582",),
    "E78.5": ("36567",),
    "J45.909": ("2623",),
    "F32.9": ("9042",),
    "E03.9": ("27436",),
    "K21.9": ("40790",),
    "M17.9": ("5640",),
}
_SHORT_COURSE = {"J06.9": "723", "J01.90": "723", "N39.0": "723", "M54.50": "5640", "R51.9": "5640"}
_DRUGS = {drug.epic_id: drug for drug in vocab.DRUGS}


def _dose_rate(kind: str, value: float, unit: str, code: str) -> dict:
    return {
        "type": {"coding": [{"system": DOSE_RATE_TYPE, "code": kind, "display": kind}], "text": kind},
        "doseQuantity": {"value": value, "unit": unit, "system": vocab.UCUM, "code": code},
    }


def _medication(drug: vocab.Drug, inline: bool) -> dict:
    if not inline:
        return {
            "medicationReference": {
                "reference": f"Medication/{fixed_id('Medication ' + drug.epic_id)}",
                "display": drug.text,
            }
        }
    rxnorm = [{"system": vocab.RXNORM, "code": code, "display": display} for code, display in drug.rxnorm]
    epic = {"system": MEDICATION_ID_SYSTEM, "code": drug.epic_id, "display": drug.text}
    return {"medicationCodeableConcept": {"coding": [*rxnorm, epic], "text": drug.text}}


def _course(acute: bool) -> dict:
    code, display = (
        ("acute", "Short course (acute) therapy") if acute else ("continuous", "Continuous long term therapy")
    )
    system = "http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy"
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


@cache
def _template(drug: vocab.Drug, inline: bool, acute: bool) -> Template:
    """One shape per (drug, inline medication or reference, short course or long term)."""
    route_code, snomed, snomed_display = vocab.ROUTES[drug.route]
    return Template(
        {
            "resourceType": "MedicationRequest",
            "id": slot("id"),
            "identifier": [{"use": "usual", "system": vocab.ORDER_ID, "value": slot("order_number")}],
            "status": slot("status"),
            "intent": "order",
            "category": [
                {"coding": [{"system": CATEGORY, "code": "community", "display": "Community"}], "text": "Community"}
            ],
            **_medication(drug, inline),
            "subject": slot("subject"),
            "encounter": slot("encounter"),
            "authoredOn": slot("authored"),
            "requester": slot("requester"),
            "recorder": {"display": slot("recorder")},
            "courseOfTherapyType": _course(acute),
            "dosageInstruction": [
                {
                    "text": drug.sig,
                    "patientInstruction": drug.sig,
                    "timing": {
                        "repeat": {
                            "boundsPeriod": slot("bounds"),
                            "frequency": drug.frequency,
                            "period": 1,
                            "periodUnit": drug.period_unit,
                        }
                    },
                    "asNeededBoolean": drug.as_needed,
                    "route": {
                        "coding": [
                            {"system": ROUTE_SYSTEM, "code": route_code, "display": drug.route},
                            {"system": vocab.SNOMED, "code": snomed, "display": snomed_display},
                        ],
                        "text": drug.route,
                    },
                    "doseAndRate": [
                        _dose_rate("calculated", drug.dose, drug.dose_unit, drug.dose_unit),
                        _dose_rate("ordered", 1, drug.form_unit, drug.form_code),
                    ],
                }
            ],
            "dispenseRequest": {
                "validityPeriod": {"start": slot("valid_from")},
                "numberOfRepeatsAllowed": slot("repeats"),
                "quantity": {"value": slot("quantity"), "unit": drug.form_unit},
                "expectedSupplyDuration": {"value": 30, "unit": "Day", "system": vocab.UCUM, "code": "d"},
            },
        }
    )


@cache
def _codes(drug: vocab.Drug) -> tuple[Token, ...]:
    return (*((vocab.RXNORM, code) for code, _ in drug.rxnorm), (MEDICATION_ID_SYSTEM, drug.epic_id))


_CATEGORY_TOKENS: tuple[Token, ...] = ((CATEGORY, "community"),)


def _request(
    chart: Chart, rng: random.Random, number: int, drug: vocab.Drug, visit: Visit, status: str, end: int | None
) -> Row:
    authored = visit.start + 900
    start_date = iso_date(authored)
    bounds = {"start": start_date} if end is None else {"start": start_date, "end": iso_date(end)}
    authored_at = instant(authored)
    line = _template(drug, rng.random() >= 0.7, end is not None).render(
        {
            "id": js(chart.ids.short(Kind.MEDICATION_REQUEST, chart.index, number)),
            "order_number": js(str(3000000 + chart.index * 64 + number)),
            "status": js(status),
            "subject": chart.subject,
            "encounter": visit.reference,
            "authored": js(authored_at),
            "requester": practitioner_reference_json(visit.practitioner),
            "recorder": js(visit.practitioner.display),
            "bounds": jd(bounds),
            "valid_from": js(start_date),
            "repeats": "0" if end else str(rng.choice((3, 5, 11))),
            "quantity": str(rng.choice((30, 60, 90))),
        }
    )
    return Row(line, status, authored_at, _CATEGORY_TOKENS, _codes(drug))


def medication_requests(chart: Chart) -> Iterator[Row]:
    rng = chart.rng(Stream.MEDICATIONS)
    visits = [visit for visit in chart.visits if visit.clinical and visit.kind.name != "Orders Only"]
    if not visits:
        return
    number = 0
    for condition in chart.chronic:
        for drug_id in _DRUG_FOR.get(condition.icd10[0], ())[: rng.randint(1, 2)]:
            visit = rng.choice(visits)
            status = "active" if chart.deceased is None and rng.random() < 0.85 else "stopped"
            yield _request(chart, rng, number, _DRUGS[drug_id], visit, status, None)
            number += 1
    for visit in visits:
        if rng.random() < 0.25:
            code = rng.choice(tuple(_SHORT_COURSE))
            end = visit.start + rng.choice((5, 7, 10)) * DAY
            status = "completed" if end < AS_OF else "active" if chart.deceased is None else "stopped"
            yield _request(chart, rng, number, _DRUGS[_SHORT_COURSE[code]], visit, status, end)
            number += 1
