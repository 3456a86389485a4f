"""Procedures: CPT/SNOMED/Epic-coded, with ``performedDateTime`` or ``performedPeriod`` and an encounter."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from epic_assets.emulator.synthetic import vocab
from epic_assets.emulator.synthetic.chart import Chart, Stream, instant
from epic_assets.emulator.synthetic.encounters import practitioner_reference_json
from epic_assets.emulator.synthetic.ids import Kind
from epic_assets.emulator.synthetic.observations import lab_orders
from epic_assets.emulator.synthetic.rows import Row, Token
from epic_assets.emulator.synthetic.template import Template, js, slot

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


def _surgical(procedure: vocab.ProcedureCode) -> bool:
    """Operations of an hour or more are filed as surgical history, the rest as ordered procedures."""
    return procedure.minutes >= 60


_SURGICAL_TOKENS: tuple[Token, ...] = ((vocab.SNOMED, "387713003"),)
_DIAGNOSTIC_TOKENS: tuple[Token, ...] = ((vocab.SNOMED, "103693007"),)


@cache
def _template(procedure: vocab.ProcedureCode) -> Template:
    codings = []
    if procedure.cpt:
        codings.append({"system": vocab.CPT, "code": procedure.cpt, "display": procedure.text})
    codings += [
        {"system": vocab.SNOMED, "code": procedure.snomed, "display": procedure.snomed_display},
        {"system": vocab.PROCEDURE_ORDER, "code": procedure.epic_id, "display": procedure.text.upper()},
    ]
    shape: dict = {
        "resourceType": "Procedure",
        "id": slot("id"),
        "identifier": [{"use": "usual", "system": vocab.ORDER_ID, "value": slot("order_number")}],
        "status": "completed",
        "category": SURGICAL if _surgical(procedure) else CATEGORY,
        "code": {"coding": codings, "text": procedure.text},
        "subject": slot("subject"),
        "encounter": slot("encounter"),
    }
    if procedure.minutes:
        shape["performedPeriod"] = {"start": slot("start"), "end": slot("end")}
    else:
        shape["performedDateTime"] = slot("start")
    shape["performer"] = [{"actor": slot("performer")}]
    return Template(shape)


@cache
def _codes(procedure: vocab.ProcedureCode) -> tuple[Token, ...]:
    codes = [(vocab.SNOMED, procedure.snomed), (vocab.PROCEDURE_ORDER, procedure.epic_id)]
    return tuple([(vocab.CPT, procedure.cpt), *codes] if procedure.cpt else codes)


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
            started = instant(start)
            values = {
                "id": js(chart.ids.short(Kind.PROCEDURE, chart.index, number)),
                "order_number": js(str(5000000 + chart.index * 64 + number)),
                "subject": chart.subject,
                "encounter": visit.reference,
                "start": js(started),
                "performer": practitioner_reference_json(visit.practitioner),
            }
            if procedure.minutes:
                values["end"] = js(instant(start + procedure.minutes * 60 + rng.randrange(-600, 900)))
            number += 1
            category = _SURGICAL_TOKENS if _surgical(procedure) else _DIAGNOSTIC_TOKENS
            yield Row(_template(procedure).render(values), "completed", started, category, _codes(procedure))
