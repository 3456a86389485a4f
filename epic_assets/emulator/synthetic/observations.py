"""Observations: flowsheet vital signs (as in the sandbox captures) and lab results.

This is the high-volume type (about half of all resources), so each vital sign and each lab analyte
has its own pre-compiled template and a resource costs a handful of random draws plus one format call.
The lab plan (orders, specimens, result ids) is memoised on the chart because DiagnosticReport must
reference exactly these Observations.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

from epic_assets.emulator.synthetic import vocab
from epic_assets.emulator.synthetic.chart import DAY, YEAR, Chart, Stream, Visit, instant, iso_date
from epic_assets.emulator.synthetic.ids import MAX_ITEMS, Kind
from epic_assets.emulator.synthetic.rows import Row, Token, concept, tokens
from epic_assets.emulator.synthetic.template import Template, jd, js, member, num, optional, slot

OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
_VITAL_CATEGORY = {
    "coding": [{"system": OBSERVATION_CATEGORY, "code": "vital-signs", "display": "Vital Signs"}],
    "text": "Vital Signs",
}
_LAB_CATEGORIES = [
    {"coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory", "display": "Laboratory"}], "text": "Laboratory"},
    {"coding": [{"system": vocab.LAB_CATEGORY, "code": "Lab", "display": "Lab"}], "text": "Lab"},
]
VITAL_TOKENS: tuple[Token, ...] = ((OBSERVATION_CATEGORY, "vital-signs"),)
LAB_TOKENS: tuple[Token, ...] = ((OBSERVATION_CATEGORY, "laboratory"), (vocab.LAB_CATEGORY, "Lab"))
_TEMPLATE_ID = {
    "valueIdentifier": {"system": f"{vocab.SITE}.2.707684", "value": "31020"},
    "url": "http://open.epic.com/FHIR/StructureDefinition/extension/template-id",
}
_FAHRENHEIT_URL = "http://open.epic.com/FHIR/STU3/StructureDefinition/temperature-in-fahrenheit"
_LAB_RESULT_BASE = MAX_ITEMS // 2  # lab Observation ids use item numbers above the vital ones


def _quantity(value: object, unit: str) -> dict:
    return {"value": value, "unit": unit, "system": vocab.UCUM, "code": unit}


def _interpretation(code: str, display: str) -> str:
    return member(
        "interpretation", f'[{{"coding":[{{"system":"{INTERPRETATION}","code":"{code}","display":"{display}"}}]}}]'
    )


_INTERPRETATIONS = {
    "A": _interpretation("A", "Abnormal"),
    "H": _interpretation("H", "High"),
    "L": _interpretation("L", "Low"),
}


# ---------------------------------------------------------------- vital signs


def _vital_template(vital: vocab.Vital) -> Template:
    extension: list[dict] = [_TEMPLATE_ID]
    if vital.key == "temp":
        extension.insert(0, {"valueQuantity": _quantity(slot("fahrenheit"), "[degF]"), "url": _FAHRENHEIT_URL})
    shape: dict = {
        "resourceType": "Observation",
        "id": slot("id"),
        "extension": extension,
        "status": slot("status"),
        "category": [_VITAL_CATEGORY],
        "code": concept(vital.codings, vital.text),
        "subject": slot("subject"),
        "encounter": slot("encounter"),
        "effectiveDateTime": slot("effective"),
        "issued": slot("issued"),
        "performer": [{"reference": f"Practitioner/{vocab.RECORDED_BY[0]}", "display": vocab.RECORDED_BY[1]}],
        optional("interpretation"): None,
    }
    if vital.key == "bp":
        shape["component"] = [
            {
                "code": concept([(vocab.LOINC, code, text)], text),
                "valueQuantity": _quantity(slot(name), "mm[Hg]"),
            }
            for code, text, name in (
                ("8480-6", "Systolic blood pressure", "systolic"),
                ("8462-4", "Diastolic blood pressure", "diastolic"),
            )
        ]
    else:
        shape["valueQuantity"] = _quantity(slot("value"), vital.unit)
    return Template(shape)


_VITAL_TEMPLATES = {key: _vital_template(vital) for key, vital in vocab.VITALS.items()}
_VITAL_CODES = {key: tokens(vital.codings) for key, vital in vocab.VITALS.items()}


@dataclass(frozen=True, slots=True)
class _Body:
    """A patient's baseline, from which each visit's vitals vary."""

    height_cm: float
    bmi: float
    systolic: float
    diastolic: float
    pulse: float


def _body(chart: Chart, rng: random.Random) -> _Body:
    female = chart.gender == "female"
    hypertensive = any(c.icd10[0] == "I10" for c in chart.chronic)
    obese = any(c.icd10[0] == "E66.9" for c in chart.chronic)
    return _Body(
        height_cm=rng.gauss(162 if female else 176, 7),
        bmi=min(48.0, max(17.5, rng.gauss(33 if obese else 27, 4))),
        systolic=rng.gauss(138 if hypertensive else 119, 9),
        diastolic=rng.gauss(86 if hypertensive else 76, 6),
        pulse=rng.gauss(74, 8),
    )


def _vital_sets(visit: Visit, rng: random.Random) -> int:
    name = visit.kind.name
    if name in ("Telephone", "Orders Only"):
        return 0
    if name == "Hospital Encounter":
        return rng.randint(2, 4)
    return 1


class _Moment(NamedTuple):
    """What one set of readings measures: the patient's baseline as of this visit."""

    body: _Body
    emergency: bool
    height_cm: float
    weight_kg: float


def _blood_pressure(rng: random.Random, now: _Moment) -> dict[str, str]:
    systolic = round(rng.gauss(now.body.systolic, 8))
    diastolic = round(rng.gauss(now.body.diastolic, 6))
    abnormal = systolic >= 140 or diastolic >= 90
    return {
        "systolic": str(systolic),
        "diastolic": str(diastolic),
        "interpretation": _INTERPRETATIONS["A"] if abnormal else "",
    }


def _temperature(rng: random.Random, now: _Moment) -> dict[str, str]:
    # Epic records Fahrenheit and derives Celsius; both appear on the resource.
    fever = now.emergency and rng.random() < 0.3
    fahrenheit = round(rng.gauss(101.2 if fever else 97.9, 0.5), 1)
    return {"fahrenheit": num(fahrenheit, 1), "value": num((fahrenheit - 32) * 5 / 9, 1), "interpretation": ""}


def _value(text: str) -> dict[str, str]:
    return {"value": text, "interpretation": ""}


_READINGS: dict[str, Callable[[random.Random, _Moment], dict[str, str]]] = {
    "bp": _blood_pressure,
    "temp": _temperature,
    "pulse": lambda rng, now: _value(str(round(rng.gauss(now.body.pulse, 6)))),
    "resp": lambda rng, now: _value(str(rng.randint(12, 20))),
    "spo2": lambda rng, now: _value(str(rng.choice((95, 96, 97, 97, 98, 98, 99, 100)))),
    "height": lambda rng, now: _value(num(now.height_cm, 1)),
    "weight": lambda rng, now: _value(num(now.weight_kg, 3)),
    "bmi": lambda rng, now: _value(num(now.weight_kg / (now.height_cm / 100) ** 2, 2)),
}


def _moment(chart: Chart, visit: Visit, body: _Body, rng: random.Random) -> _Moment:
    age = (visit.start - chart.birth) / YEAR
    growth = min(1.0, 0.3 + 0.7 * (age / 17) ** 0.7) if age < 17 else 1.0
    height = body.height_cm * growth
    bmi = body.bmi if age >= 18 else 15.5 + 2.5 * rng.random()
    # Epic stores weight in ounces, so kilograms come out with three decimals.
    ounces = round(bmi * (height / 100) ** 2 * rng.uniform(0.97, 1.03) * 35.274)
    return _Moment(body, visit.kind.name == "Emergency", height, ounces / 35.274)


def _chosen_vitals(rng: random.Random, first_set: bool, first_visit: bool) -> list[str]:
    chosen = ["bp", "pulse"]
    if rng.random() < 0.75:
        chosen.append("temp")
    if rng.random() < 0.6:
        chosen += ["resp", "spo2"]
    if first_set and rng.random() < 0.85:
        chosen.append("weight")
        if first_visit or rng.random() < 0.3:
            chosen += ["height", "bmi"]
    return chosen


_STATUS_JSON = {status: js(status) for status in ("final", "entered-in-error")}


def _vitals(chart: Chart) -> Iterator[Row]:
    rng = chart.rng(Stream.VITALS)
    body = _body(chart, rng)
    subject = chart.subject
    ids = chart.ids
    item = 0
    for visit in chart.visits:
        if not visit.clinical:
            continue
        sets = _vital_sets(visit, rng)
        now = _moment(chart, visit, body, rng)
        encounter = visit.reference
        for set_index in range(sets):
            taken = visit.start + 600 + set_index * int(max(visit.end - visit.start, 3600) / sets)
            # A set's readings are filed seconds apart within one minute (as in the sandbox), so the
            # timestamp is formatted once per set.
            second = taken % 60
            if second > 50:
                taken -= 10
                second -= 10
            minute = instant(taken)[:17]
            for offset, key in enumerate(_chosen_vitals(rng, set_index == 0, visit.index == 0)):
                effective = f"{minute}{second + offset:02d}Z"
                effective_json = f'"{effective}"'
                values = {
                    "id": '"' + ids.long_form(Kind.OBSERVATION, chart.index, item) + '"',
                    "subject": subject,
                    "encounter": encounter,
                    "effective": effective_json,
                    # Epic sometimes files a reading well after it was taken (the sandbox BP was issued a day later).
                    "issued": effective_json
                    if rng.random() < 0.9
                    else js(instant(taken + offset + rng.randrange(600, DAY + 3600))),
                    **_READINGS[key](rng, now),
                }
                # Now and then a reading was charted on the wrong patient or row and struck out.
                status = "final" if rng.random() >= 0.004 else "entered-in-error"
                values["status"] = _STATUS_JSON[status]
                item += 1
                yield Row(_VITAL_TEMPLATES[key].render(values), status, effective, VITAL_TOKENS, _VITAL_CODES[key])


# ---------------------------------------------------------------- laboratory


def _lab_template(panel: vocab.Panel, analyte: vocab.Analyte) -> Template:
    codings: list[tuple[str, str, str | None]] = []
    if analyte.loinc:
        codings.append((vocab.LOINC, analyte.loinc, analyte.loinc_display))
    codings.append((vocab.LAB_COMPONENT, analyte.component, analyte.text))
    shape: dict = {
        "resourceType": "Observation",
        "id": slot("id"),
        "basedOn": [{"reference": slot("order"), "display": panel.text}],
        "status": slot("status"),
        "category": _LAB_CATEGORIES,
        "code": concept(codings, analyte.text),
        "subject": slot("subject"),
        "encounter": slot("encounter"),
        "effectiveDateTime": slot("effective"),
        "issued": slot("issued"),
    }
    shape[optional("value")] = None  # value[x], or dataAbsentReason when the test was not performed
    shape[optional("interpretation")] = None
    shape["specimen"] = {"reference": slot("specimen"), "display": "Specimen"}
    if analyte.unit and (analyte.low is not None or analyte.high is not None):
        bound = {}
        if analyte.low is not None:
            bound["low"] = _quantity(_number(analyte.low, analyte.decimals), analyte.unit)
        if analyte.high is not None:
            bound["high"] = _quantity(_number(analyte.high, analyte.decimals), analyte.unit)
        low = num(analyte.low, analyte.decimals) if analyte.low is not None else ""
        high = num(analyte.high, analyte.decimals) if analyte.high is not None else ""
        text = f"{low} - {high} {analyte.unit}" if low and high else (f">={low}" if low else f"<={high}")
        shape["referenceRange"] = [{**bound, "text": text}]
    return Template(shape)


@cache
def _value_member(analyte: vocab.Analyte) -> tuple[str, str]:
    """The text around a result's value: ``,"valueQuantity":{"value":`` … ``,"unit":…}``."""
    if analyte.strings:
        return ',"valueString":', ""
    if analyte.unit is None:  # Epic sends some quantities without a unit (HbA1c in the sandbox)
        return ',"valueQuantity":{"value":', "}"
    unit = js(analyte.unit)
    return ',"valueQuantity":{"value":', f',"unit":{unit},"system":"{vocab.UCUM}","code":{unit}}}'


_NOT_PERFORMED = member(
    "dataAbsentReason",
    jd({
        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "not-performed",
                    "display": "Not Performed"}],
        "text": "Not Performed",
    }),
)  # fmt: skip


def _number(value: float, decimals: int) -> float | int:
    return round(value) if decimals <= 0 else round(value, decimals)


@cache
def _lab_templates() -> dict[str, Template]:
    return {analyte.component: _lab_template(panel, analyte) for panel in vocab.PANELS for analyte in panel.analytes}


class LabResult(NamedTuple):
    id: str
    analyte: vocab.Analyte
    status: str
    value: str  # the value[x] (or dataAbsentReason) member fragment
    interpretation: str  # "" or an optional-member fragment


class LabOrder(NamedTuple):
    """One resulted panel: the ServiceRequest both the results and the DiagnosticReport are based on."""

    number: int
    visit: Visit
    panel: vocab.Panel
    order_id: str
    specimen_id: str
    effective: str
    issued: str
    status: str
    results: tuple[LabResult, ...]


_PANEL_WEIGHTS = [panel.weight for panel in vocab.PANELS]
_PANEL_CHANCE = {
    "Office Visit": 0.35,
    "Orders Only": 0.95,
    "Hospital Encounter": 1.0,
    "Emergency": 0.6,
    "Surgery Admit": 0.7,
    "Cardiology Visit": 0.4,
    "Telephone": 0.0,
}


_DIABETIC_MEANS = {"4548-4": 7.6, "2345-7": 150.0}  # HbA1c and glucose run high in diabetics


def _lab_value(analyte: vocab.Analyte, rng: random.Random, diabetic: bool) -> tuple[str, str]:
    if analyte.strings:
        value = analyte.strings[0] if rng.random() < 0.8 else rng.choice(analyte.strings)
        return js(value), "" if value == analyte.strings[0] else _INTERPRETATIONS["A"]
    mean = _DIABETIC_MEANS.get(analyte.loinc, analyte.mean) if diabetic else analyte.mean
    value = rng.gauss(mean, analyte.spread)
    if analyte.reporting_limit is not None and value < analyte.reporting_limit:
        return f'{analyte.reporting_limit},"comparator":"<"', _INTERPRETATIONS["L"]
    value = max(value, analyte.mean * 0.2)
    decimals = analyte.decimals
    if decimals <= 0:
        shown: float = round(value)
        text = str(shown)
    else:
        shown = round(value, decimals)
        text = repr(shown)
    if analyte.high is not None and shown > analyte.high:
        return text, _INTERPRETATIONS["H"]
    if analyte.low is not None and shown < analyte.low:
        return text, _INTERPRETATIONS["L"]
    return text, ""


def lab_orders(chart: Chart) -> list[LabOrder]:
    """The patient's resulted lab panels, computed once per chart."""
    cached = chart.memo.get("labs")
    if cached is not None:
        return cached  # type: ignore[return-value]
    rng = chart.rng(Stream.LABS)
    ids = chart.ids
    diabetic = any(c.icd10[0] == "E11.9" for c in chart.chronic)
    orders: list[LabOrder] = []
    result_item = _LAB_RESULT_BASE
    for visit in chart.visits:
        if not visit.clinical or rng.random() >= _PANEL_CHANCE[visit.kind.name]:
            continue
        count = rng.randint(2, 3) if visit.kind.name == "Hospital Encounter" else rng.choice((1, 1, 2))
        panels = rng.choices(vocab.PANELS, weights=_PANEL_WEIGHTS, k=count)
        if diabetic and rng.random() < 0.5:
            panels[0] = vocab.HBA1C_PANEL
        for panel in dict.fromkeys(panels):  # one of each panel per visit, in drawn order
            number = len(orders)
            collected = visit.start + rng.randrange(900, 5400)
            # A few historical results carry only a date, as Epic shows for outside or back-entered labs.
            effective = iso_date(collected) if rng.random() < 0.02 else instant(collected)
            issued = instant(collected + rng.randrange(1800, DAY))  # resulted within a day
            status = "final" if rng.random() < 0.94 else "corrected"
            results = []
            for analyte in panel.analytes:
                result_id = ids.long_form(Kind.OBSERVATION, chart.index, result_item)
                result_item += 1
                if rng.random() < 0.015:  # a component the lab could not run: no value, a reason instead
                    results.append(LabResult(result_id, analyte, "cancelled", _NOT_PERFORMED, ""))
                    continue
                value, flag = _lab_value(analyte, rng, diabetic)
                before, after = _value_member(analyte)
                results.append(LabResult(result_id, analyte, status, before + value + after, flag))
            orders.append(
                LabOrder(
                    number,
                    visit,
                    panel,
                    ids.long_form(Kind.SERVICE_REQUEST, chart.index, number),
                    ids.long_form(Kind.SPECIMEN, chart.index, number),
                    effective,
                    issued,
                    status,
                    tuple(results),
                )
            )
    chart.memo["labs"] = orders
    return orders


@cache
def _lab_codes() -> dict[str, tuple[Token, ...]]:
    result: dict[str, tuple[Token, ...]] = {}
    for panel in vocab.PANELS:
        for analyte in panel.analytes:
            pairs = [(vocab.LAB_COMPONENT, analyte.component)]
            if analyte.loinc:
                pairs.insert(0, (vocab.LOINC, analyte.loinc))
            result[analyte.component] = tuple(pairs)
    return result


def _labs(chart: Chart) -> Iterator[Row]:
    templates = _lab_templates()
    codes = _lab_codes()
    subject = chart.subject
    for order in lab_orders(chart):
        based_on = js("ServiceRequest/" + order.order_id)
        encounter = order.visit.reference
        effective = js(order.effective)
        issued = js(order.issued)
        specimen = js("Specimen/" + order.specimen_id)
        for result in order.results:
            values = {
                "id": js(result.id),
                "order": based_on,
                "status": js(result.status),
                "subject": subject,
                "encounter": encounter,
                "effective": effective,
                "issued": issued,
                "value": result.value,
                "interpretation": result.interpretation,
                "specimen": specimen,
            }
            component = result.analyte.component
            yield Row(templates[component].render(values), result.status, order.effective, LAB_TOKENS, codes[component])


# ---------------------------------------------------------------- social history

SOCIAL_TOKENS: tuple[Token, ...] = ((OBSERVATION_CATEGORY, "social-history"),)
_SMOKING_CODE = ("72166-2", "Tobacco smoking status")
_SMOKING_STATUS = (  # (SNOMED code, display, Epic's text, weight)
    ("266919005", "Never smoker", "Never", 60),
    ("8517006", "Ex-smoker", "Former", 22),
    ("449868002", "Smokes tobacco daily", "Every Day", 12),
    ("428041000124106", "Occasional tobacco smoker", "Some Days", 6),
)
_SOCIAL_ITEM = _LAB_RESULT_BASE - 1


def _smoking_status(chart: Chart) -> Iterator[Row]:
    """Tobacco smoking status, recorded at the latest office visit of patients 13 and older."""
    rng = chart.rng(Stream.SOCIAL_HISTORY)
    visit = next(
        (
            v
            for v in reversed(chart.visits)
            if v.clinical and v.kind.name == "Office Visit" and v.start - chart.birth > 13 * YEAR
        ),
        None,
    )
    if visit is None:
        return
    code, display, text, _ = rng.choices(_SMOKING_STATUS, weights=[entry[3] for entry in _SMOKING_STATUS])[0]
    recorded = instant(visit.start + 420)
    resource = {
        "resourceType": "Observation",
        "id": chart.ids.long_form(Kind.OBSERVATION, chart.index, _SOCIAL_ITEM),
        "status": "final",
        "category": [
            {
                "coding": [{"system": OBSERVATION_CATEGORY, "code": "social-history", "display": "Social History"}],
                "text": "Social History",
            }
        ],
        "code": concept([(vocab.LOINC, *_SMOKING_CODE)], _SMOKING_CODE[1]),
        "subject": {"reference": f"Patient/{chart.patient_id}", "display": chart.display},
        "encounter": json.loads(visit.reference),
        "effectiveDateTime": recorded,
        "issued": recorded,
        "valueCodeableConcept": concept([(vocab.SNOMED, code, display)], text),
    }
    yield Row(jd(resource), "final", recorded, SOCIAL_TOKENS, ((vocab.LOINC, _SMOKING_CODE[0]),))


def observations(chart: Chart) -> Iterator[Row]:
    yield from _vitals(chart)
    yield from _labs(chart)
    yield from _smoking_status(chart)
