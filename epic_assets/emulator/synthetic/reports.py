"""Lab DiagnosticReports shaped like the sandbox capture, one per resulted panel.

``result[]`` points at exactly the lab Observations that :mod:`observations` emits for the same order
(both read the memoised lab plan), so references always resolve within an export.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from epic_assets.emulator.synthetic import vocab
from epic_assets.emulator.synthetic.chart import Chart
from epic_assets.emulator.synthetic.encounters import practitioner_reference_json
from epic_assets.emulator.synthetic.ids import Kind
from epic_assets.emulator.synthetic.observations import lab_orders
from epic_assets.emulator.synthetic.rows import Row, Token
from epic_assets.emulator.synthetic.template import Template, js, slot

V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
SNOMED_OID = "urn:oid:2.16.840.1.113883.6.96"
CATEGORY_TOKENS: tuple[Token, ...] = ((vocab.LAB_CATEGORY, "Lab"), (V2_0074, "LAB"))


@cache
def _template(panel: vocab.Panel) -> Template:
    codings = [{"system": vocab.PROCEDURE_ORDER, "code": panel.code, "display": panel.text.upper()}]
    if panel.snomed:
        codings.append({"system": SNOMED_OID, "code": panel.snomed, "display": panel.text.upper()})
    return Template(
        {
            "resourceType": "DiagnosticReport",
            "id": slot("id"),
            "identifier": [
                {
                    "use": "official",
                    "type": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                "code": "PLAC",
                                "display": "Placer Identifier",
                            }
                        ],
                        "text": "Placer Identifier",
                    },
                    "system": vocab.ORDER_ID,
                    "value": slot("placer"),
                }
            ],
            "basedOn": [{"reference": slot("order"), "display": panel.text}],
            "status": slot("status"),
            "category": [
                {"coding": [{"system": vocab.LAB_CATEGORY, "code": "Lab"}], "text": "Lab"},
                {"coding": [{"system": V2_0074, "code": "LAB", "display": "Laboratory"}], "text": "Laboratory"},
            ],
            "code": {"coding": codings, "text": panel.text},
            "subject": slot("subject"),
            "encounter": slot("encounter"),
            "effectiveDateTime": slot("effective"),
            "issued": slot("issued"),
            "performer": [slot("performer")],
            "result": slot("results"),
        }
    )


@cache
def _codes(panel: vocab.Panel) -> tuple[Token, ...]:
    order: Token = (vocab.PROCEDURE_ORDER, panel.code)
    return (order, (SNOMED_OID, panel.snomed)) if panel.snomed else (order,)


# Epic's result display: "Component (1): <COMPONENT NAME IN CAPITALS>".
_RESULT_DISPLAY = {
    analyte.component: js(f"Component (1): {analyte.text.upper()}")
    for panel in vocab.PANELS
    for analyte in panel.analytes
}


def diagnostic_reports(chart: Chart) -> Iterator[Row]:
    for order in lab_orders(chart):
        # Epic marks reports whose results were corrected as "amended".
        status = "amended" if order.status == "corrected" else "final"
        results = ",".join(
            '{"reference":"Observation/' + result.id + '","display":' + _RESULT_DISPLAY[result.analyte.component] + "}"
            for result in order.results
        )
        line = _template(order.panel).render(
            {
                "id": js(chart.ids.long_form(Kind.DIAGNOSTIC_REPORT, chart.index, order.number)),
                "placer": js(str(1066900 + chart.index * 64 + order.number)),
                "order": js("ServiceRequest/" + order.order_id),
                "status": js(status),
                "subject": chart.subject,
                "encounter": order.visit.reference,
                "effective": js(order.effective),
                "issued": js(order.issued),
                "performer": practitioner_reference_json(order.visit.practitioner),
                "results": "[" + results + "]",
            }
        )
        yield Row(line, status, order.effective, CATEGORY_TOKENS, _codes(order.panel))
