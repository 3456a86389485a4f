"""Procedures: CPT/SNOMED/Epic-coded, with ``performedDateTime`` or ``performedPeriod`` and an encounter."""

from __future__ import annotations

from collections.abc import Iterator

from epic_assets.emulator.synthetic import vocab
from epic_assets.emulator.synthetic.chart import Chart, Stream, instant
from epic_assets.emulator.synthetic.encounters import practitioner_reference
from epic_assets.emulator.synthetic.ids import Kind
from epic_assets.emulator.synthetic.observations import lab_orders
from epic_assets.emulator.synthetic.rows import Row
from epic_assets.emulator.synthetic.template import jd

_BY_KIND = {
    "Surgery Admit": ("3004", "3008", "3003"),
    "Cardiology Visit": ("3001", "3007"),
    "Emergency": ("3001", "3002"),
    "Hospital Encounter": ("3002", "3001"),
    "Office Visit": ("3006",),
}
_PROCEDURES = {procedure.epic_id: procedure for procedure in vocab.PROCEDURES}
CATEGORY = {
    "coding": [{"system": vocab.SNOMED, "code": "103693007", "display": "Diagnostic procedure"}],
    "text": "Ordered Procedures",
}
SURGICAL = {
    "coding": [{"system": vocab.SNOMED, "code": "387713003", "display": "Surgical procedure"}],
    "text": "Surgical History",
}


def procedures(chart: Chart) -> Iterator[Row]:
    rng = chart.rng(Stream.PROCEDURES)
    lab_visits = {order.visit.index for order in lab_orders(chart)}
    number = 0
    for visit in chart.visits:
        if not visit.clinical:
            continue
        picks: list[str] = []
        options = _BY_KIND.get(visit.kind.name, ())
        if options and rng.random() < (1.0 if visit.kind.name == "Surgery Admit" else 0.35):
            picks.append(rng.choice(options))
        if visit.index in lab_visits and rng.random() < 0.5:
            picks.append("3005")  # the blood draw behind the visit's labs
        for epic_id in picks:
            procedure = _PROCEDURES[epic_id]
            start = visit.start + rng.randrange(600, 3600)
            codings = []
            if procedure.cpt:
                codings.append({"system": vocab.CPT, "code": procedure.cpt, "display": procedure.text})
            codings += [
                {"system": vocab.SNOMED, "code": procedure.snomed, "display": procedure.snomed_display},
                {"system": vocab.PROCEDURE_ORDER, "code": procedure.epic_id, "display": procedure.text.upper()},
            ]
            resource: dict = {
                "resourceType": "Procedure",
                "id": chart.ids.short(Kind.PROCEDURE, chart.index, number),
                "identifier": [
                    {"use": "usual", "system": vocab.ORDER_ID, "value": str(5000000 + chart.index * 64 + number)}
                ],
                "status": "completed",
                "category": SURGICAL if procedure.minutes >= 60 else CATEGORY,
                "code": {"coding": codings, "text": procedure.text},
                "subject": {"reference": f"Patient/{chart.patient_id}", "display": chart.display},
                "encounter": {
                    "reference": f"Encounter/{visit.id}",
                    "identifier": {"use": "usual", "system": vocab.ENCOUNTER_CSN_SYSTEM, "value": visit.csn},
                    "display": visit.kind.name,
                },
            }
            if procedure.minutes:
                end = start + procedure.minutes * 60 + rng.randrange(-600, 900)
                resource["performedPeriod"] = {"start": instant(start), "end": instant(end)}
            else:
                resource["performedDateTime"] = instant(start)
            resource["performer"] = [{"actor": practitioner_reference(visit.practitioner)}]
            codes = tuple((coding["system"], coding["code"]) for coding in codings)
            number += 1
            yield Row(jd(resource), "completed", instant(start), (), codes)
