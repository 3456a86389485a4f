"""Conditions: problem-list items and encounter diagnoses, as in the two sandbox captures.

Problem-list items carry clinical and verification status and list ICD-10 first; encounter diagnoses
carry an encounter reference, usually no clinicalStatus, and list SNOMED first (both orders occur in
Epic's output, so consumers must scan every coding).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import NamedTuple

from epic_assets.emulator.synthetic import vocab
from epic_assets.emulator.synthetic.chart import AS_OF, DAY, YEAR, Chart, Stream, Visit, iso_date
from epic_assets.emulator.synthetic.ids import Kind
from epic_assets.emulator.synthetic.rows import Row, Token
from epic_assets.emulator.synthetic.template import Template, jd, js, member, optional, slot

CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
PROBLEM_TOKENS: tuple[Token, ...] = ((CATEGORY, "problem-list-item"),)
DIAGNOSIS_TOKENS: tuple[Token, ...] = (
    (CATEGORY, "encounter-diagnosis"),
    ("http://open.epic.com/FHIR/StructureDefinition/condition-category", "visit-diagnosis"),
)


def status_concept(system: str, code: str) -> dict:
    """A clinical or verification status as Epic writes it (versioned coding, capitalised display)."""
    display = code.capitalize()
    return {"coding": [{"system": system, "version": "4.0.0", "code": code, "display": display}], "text": display}


def _status(system: str, code: str) -> str:
    return jd(status_concept(system, code))


_CLINICAL = {code: _status(CLINICAL, code) for code in ("active", "resolved", "inactive")}
_CONFIRMED = _status(VERIFICATION, "confirmed")

_PROBLEM = Template(
    {
        "resourceType": "Condition",
        "id": slot("id"),
        "clinicalStatus": slot("clinical"),
        "verificationStatus": slot("verification"),
        "category": [
            {
                "coding": [{"system": CATEGORY, "code": "problem-list-item", "display": "Problem List Item"}],
                "text": "Problem List Item",
            }
        ],
        "code": slot("code"),
        "subject": slot("subject"),
        "onsetDateTime": slot("onset"),
        optional("abatement"): None,
        "recordedDate": slot("recorded"),
    }
)
_DIAGNOSIS = Template(
    {
        "resourceType": "Condition",
        "id": slot("id"),
        optional("clinical"): None,
        "category": [
            {
                "coding": [{"system": CATEGORY, "code": "encounter-diagnosis", "display": "Encounter Diagnosis"}],
                "text": "Encounter Diagnosis",
            },
            {
                "coding": [{"system": DIAGNOSIS_TOKENS[1][0], "code": "visit-diagnosis", "display": "Visit Diagnosis"}],
                "text": "Visit Diagnosis",
            },
        ],
        "code": slot("code"),
        "subject": slot("subject"),
        "encounter": slot("encounter"),
        "recordedDate": slot("recorded"),
    }
)


def _codings(condition: vocab.ConditionCode, problem_list: bool) -> list[tuple[str, tuple[str, str]]]:
    if problem_list:
        return [
            (vocab.ICD10, condition.icd10),
            (vocab.SNOMED, condition.snomed),
            (vocab.ICD9, condition.icd9),
            (vocab.IMO, condition.imo),
        ]
    return [(vocab.SNOMED, condition.snomed), (vocab.ICD9, condition.icd9), (vocab.ICD10, condition.icd10)]


@cache
def _code(condition: vocab.ConditionCode, problem_list: bool) -> tuple[str, tuple[Token, ...]]:
    codings = _codings(condition, problem_list)
    fragment = jd(
        {
            "coding": [{"system": system, "code": code, "display": display} for system, (code, display) in codings],
            "text": condition.text,
        }
    )
    return fragment, tuple((system, code) for system, (code, _) in codings)


# A past acute problem can sit resolved on the problem list; an encounter reason (ICD-10 Z codes) cannot.
_RESOLVABLE = tuple(condition for condition in vocab.ACUTE_CONDITIONS if not condition.icd10[0].startswith("Z"))


def _problems(chart: Chart) -> Iterator[Row]:
    rng = chart.rng(Stream.CONDITIONS)
    problems = [(condition, "active") for condition in chart.chronic]
    if rng.random() < 0.4:
        problems.append((rng.choice(_RESOLVABLE), "resolved"))
    end = chart.record_end
    latest = end - 30 * DAY
    earliest = min(max(chart.birth + 90 * DAY, AS_OF - 15 * YEAR), latest - 1)  # infants: a recent onset
    for number, (condition, status) in enumerate(problems):
        onset = rng.randrange(earliest, latest)
        recorded = min(onset + rng.randrange(0, 200) * DAY, end - DAY)
        code, tokens = _code(condition, True)
        abatement = ""
        if status == "resolved":
            abatement = member("abatementDateTime", js(iso_date(min(recorded + rng.randrange(7, 90) * DAY, end))))
        line = _PROBLEM.render(
            {
                "id": js(chart.ids.short(Kind.CONDITION, chart.index, number)),
                "clinical": _CLINICAL[status],
                "verification": _CONFIRMED,
                "code": code,
                "subject": chart.subject,
                "onset": js(iso_date(onset)),
                "abatement": abatement,
                "recorded": js(iso_date(recorded)),
            }
        )
        yield Row(line, status, iso_date(recorded), PROBLEM_TOKENS, tokens)


_DIAGNOSIS_CHANCE = {"Orders Only": 0.5, "Telephone": 0.4}


class VisitDiagnosis(NamedTuple):
    """An encounter diagnosis; the Encounter lists it in ``diagnosis`` and the Condition points back."""

    id: str
    visit: Visit
    condition: vocab.ConditionCode
    status: str  # "" (Epic usually omits clinicalStatus on encounter diagnoses) or "active"
    rank: int


def visit_diagnoses(chart: Chart) -> list[VisitDiagnosis]:
    """The patient's encounter diagnoses in visit order, computed once per chart."""
    cached = chart.memo.get("diagnoses")
    if cached is not None:
        return cached  # type: ignore[return-value]
    rng = chart.rng(Stream.CONDITIONS, 1)
    number = 1000  # item numbers after the problem list's
    diagnoses: list[VisitDiagnosis] = []
    for visit in chart.visits:
        if not visit.clinical or rng.random() >= _DIAGNOSIS_CHANCE.get(visit.kind.name, 0.8):
            continue
        picks = []
        if chart.chronic and rng.random() < 0.5:
            picks.append(rng.choice(chart.chronic))
        if not picks or rng.random() < 0.3:
            picks.append(rng.choice(vocab.ACUTE_CONDITIONS))
        for rank, condition in enumerate(dict.fromkeys(picks), start=1):
            status = "active" if rng.random() < 0.2 else ""
            condition_id = chart.ids.long_form(Kind.CONDITION, chart.index, number)
            diagnoses.append(VisitDiagnosis(condition_id, visit, condition, status, rank))
            number += 1
    chart.memo["diagnoses"] = diagnoses
    return diagnoses


def _diagnoses(chart: Chart) -> Iterator[Row]:
    for diagnosis in visit_diagnoses(chart):
        code, tokens = _code(diagnosis.condition, False)
        recorded = iso_date(diagnosis.visit.start)
        status = diagnosis.status
        line = _DIAGNOSIS.render(
            {
                "id": js(diagnosis.id),
                "clinical": member("clinicalStatus", _CLINICAL[status]) if status else "",
                "code": code,
                "subject": chart.subject,
                "encounter": diagnosis.visit.reference,
                "recorded": js(recorded),
            }
        )
        yield Row(line, status, recorded, DIAGNOSIS_TOKENS, tokens)


def conditions(chart: Chart) -> Iterator[Row]:
    yield from _problems(chart)
    yield from _diagnoses(chart)
