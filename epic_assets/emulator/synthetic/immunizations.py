"""Immunizations shaped like the sandbox capture: CVX code plus text, ``doseQuantity`` in an Epic OID.

Vaccines given at one of the patient's visits reference that encounter and carry a date-time; older
history (reconciled from outside records) carries a date only and ``primarySource: false``.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from epic_assets.emulator.synthetic import vocab
from epic_assets.emulator.synthetic.chart import DAY, YEAR, Chart, Stream, instant, iso_date
from epic_assets.emulator.synthetic.ids import Kind
from epic_assets.emulator.synthetic.rows import Row
from epic_assets.emulator.synthetic.template import Template, jd, js, member, num, optional, slot

DOSE_UNIT_SYSTEM = f"{vocab.SITE}.10.768076.4019"

_TEMPLATE = Template(
    {
        "resourceType": "Immunization",
        "id": slot("id"),
        "identifier": [{"use": "usual", "system": f"{vocab.SITE}.2.768076", "value": slot("number")}],
        "status": "completed",
        "vaccineCode": slot("vaccine"),
        "patient": slot("patient"),
        optional("encounter"): None,
        "occurrenceDateTime": slot("occurrence"),
        "primarySource": slot("primary"),
        "manufacturer": {"display": slot("manufacturer")},
        "lotNumber": slot("lot"),
        "doseQuantity": {"value": slot("dose"), "unit": "mL", "system": DOSE_UNIT_SYSTEM, "code": "1"},
        optional("note"): None,
    }
)


@cache
def _vaccine_code(vaccine: vocab.Vaccine) -> str:
    return jd({"coding": [{"system": vocab.CVX, "code": vaccine.cvx}], "text": vaccine.text})


_CLINIC_NOTE = member("note", jd([{"text": "Administered in clinic"}]))


def immunizations(chart: Chart) -> Iterator[Row]:
    rng = chart.rng(Stream.IMMUNIZATIONS)
    age = chart.age_years
    visits = [visit for visit in chart.visits if visit.clinical and visit.kind.name in ("Office Visit", "Emergency")]
    number = 0
    for vaccine in vocab.VACCINES:
        if vaccine.min_age > age or rng.random() > (0.85 if vaccine.max_age <= 18 else 0.45):
            continue
        doses = rng.randint(1, 3) if vaccine.max_age <= 18 else rng.randint(1, 2)
        window_start = chart.birth + vaccine.min_age * YEAR + 60 * DAY
        window_end = min(chart.birth + vaccine.max_age * YEAR, chart.record_end) - DAY
        if window_end <= window_start:
            continue
        candidates = [visit for visit in visits if window_start <= visit.start <= window_end]
        for _ in range(doses):
            given_at = None
            if candidates and rng.random() < 0.6:
                # Each dose at a different visit: a visit gets at most one dose of a vaccine.
                given_at = candidates.pop(int(rng.random() * len(candidates)))
                occurrence = instant(given_at.start + 1200)
            else:
                occurrence = iso_date(rng.randrange(window_start, window_end))
            line = _TEMPLATE.render(
                {
                    "id": js(chart.ids.short(Kind.IMMUNIZATION, chart.index, number)),
                    "number": js(str(29000 + chart.index * 64 + number)),
                    "vaccine": _vaccine_code(vaccine),
                    "patient": chart.subject,
                    "encounter": member("encounter", given_at.reference) if given_at else "",
                    "occurrence": js(occurrence),
                    "primary": "true" if given_at else "false",
                    "manufacturer": js(vaccine.manufacturer),
                    "lot": js(str(rng.randrange(100, 99999))),
                    "dose": num(vaccine.dose_ml, 1),
                    "note": _CLINIC_NOTE if given_at and rng.random() < 0.3 else "",
                }
            )
            number += 1
            yield Row(line, "completed", occurrence, (), ((vocab.CVX, vaccine.cvx),))
