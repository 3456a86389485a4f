"""Encounters shaped like the sandbox's ``Encounter/eoK8nLRcEypNjtns4dgnF3Q3``.

The visits themselves are planned in :mod:`chart` (every other type references them); this module
only renders them. One template per encounter kind keeps the per-resource cost to a format call.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from functools import cache

from epic_assets.emulator.synthetic import vocab
from epic_assets.emulator.synthetic.chart import Chart, Stream, Visit, instant
from epic_assets.emulator.synthetic.conditions import visit_diagnoses
from epic_assets.emulator.synthetic.rows import Row, Token
from epic_assets.emulator.synthetic.template import Template, jd, js, member, optional, slot

PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
ENCOUNTER_TYPE = f"{vocab.SITE}.10.698084.10110"
ENCOUNTER_CATEGORY = f"{vocab.SITE}.10.698084.30"
SERVICE_TYPE = f"{vocab.SITE}.10.698084.18886"
SPECIALTY = f"{vocab.SITE}.4.698084.18832"


def practitioner_reference(practitioner: vocab.Practitioner) -> dict:
    return {"reference": f"Practitioner/{practitioner.id}", "type": "Practitioner", "display": practitioner.display}


@cache
def practitioner_reference_json(practitioner: vocab.Practitioner) -> str:
    return jd(practitioner_reference(practitioner))


def _encounter_class(kind: vocab.EncounterKind, planned: bool) -> tuple[str, str, str]:
    """(system, code, display); a hospital encounter not yet begun has Epic's preadmission class."""
    if planned and kind.category_code == "3":
        return vocab.PREADMISSION_CLASS
    return kind.class_system, kind.class_code, kind.class_display


@cache
def _template(kind: vocab.EncounterKind, planned: bool) -> Template:
    class_system, class_code, class_display = _encounter_class(kind, planned)
    return Template(
        {
            "resourceType": "Encounter",
            "id": slot("id"),
            "identifier": [{"use": "usual", "system": vocab.ENCOUNTER_CSN_SYSTEM, "value": slot("csn")}],
            "status": slot("status"),
            "class": {"system": class_system, "code": class_code, "display": class_display},
            "type": [
                {
                    "coding": [{"system": ENCOUNTER_TYPE, "code": kind.type_code, "display": kind.name}],
                    "text": kind.name,
                },
                {
                    "coding": [{"system": ENCOUNTER_CATEGORY, "code": kind.category_code, "display": kind.category}],
                    "text": kind.category,
                },
            ],
            "serviceType": slot("service_type"),
            "subject": slot("subject"),
            "participant": slot("participant"),
            "period": slot("period"),
            optional("reason"): None,
            optional("diagnosis"): None,
            optional("account"): None,
            optional("hospitalization"): None,
            "location": slot("location"),
            "serviceProvider": {"reference": vocab.ORGANIZATION_REF, "display": vocab.ORGANIZATION_NAME},
        }
    )


def _role(code: str, display: str, practitioner: vocab.Practitioner) -> dict:
    return {
        "type": [{"coding": [{"system": PARTICIPATION, "code": code, "display": display}], "text": display}],
        "individual": practitioner_reference(practitioner),
    }


@cache
def _participants_head(kind: vocab.EncounterKind, practitioner: vocab.Practitioner) -> str:
    """The participant list without its closing bracket (a surgeon entry may follow)."""
    roles = [_role("ATND", "attender", practitioner)]
    if kind.category_code == "3":  # hospital encounters also name the admitting provider
        roles.insert(0, _role("ADM", "admitter", practitioner))
    return jd(roles)[:-1]


@cache
def _surgeon_parts(practitioner: vocab.Practitioner) -> tuple[str, str]:
    """A surgical case's surgeon entry, split where its ``period.start`` goes (as in the sandbox capture)."""
    entry = jd(
        {
            "extension": [
                {
                    "valueCodeableConcept": {
                        "coding": [
                            {
                                "system": SPECIALTY,
                                "code": practitioner.specialty_code,
                                "display": practitioner.specialty,
                            }
                        ],
                        "text": practitioner.specialty,
                    },
                    "url": "http://open.epic.com/FHIR/StructureDefinition/extension/specialty",
                }
            ],
            "type": [
                {
                    "coding": [{"system": f"{vocab.SITE}.10.698084.18869", "code": "Surgeon", "display": "Surgeon"}],
                    "text": "Surgeon",
                }
            ],
            "period": {"start": "@"},
            "individual": practitioner_reference(practitioner),
        }
    )
    head, tail = entry.split('"@"')
    return head, tail


def _participants(visit: Visit) -> str:
    head = _participants_head(visit.kind, visit.practitioner)
    if visit.kind.name != "Surgery Admit":
        return head + "]"
    before, after = _surgeon_parts(visit.practitioner)
    return head + "," + before + js(instant(visit.start - 4200)) + after + "]"


@cache
def _service_type(practitioner: vocab.Practitioner) -> str:
    code = practitioner.specialty_code
    text = practitioner.specialty
    return jd({"coding": [{"system": SERVICE_TYPE, "code": code, "display": text}], "text": text})


@cache
def _locations(location: tuple[str, str], repeated: bool) -> str:
    """Department then facility; surgical cases list the operating room twice, as the sandbox capture does."""
    department = {"location": {"reference": f"Location/{location[0]}", "display": location[1]}}
    facility = {"location": {"reference": f"Location/{vocab.FACILITY[0]}", "display": vocab.FACILITY[1]}}
    return jd([department, department, facility] if repeated else [department, facility])


@cache
def _types(kind: vocab.EncounterKind) -> tuple[Token, ...]:
    return ((ENCOUNTER_TYPE, kind.type_code), (ENCOUNTER_CATEGORY, kind.category_code))


@cache
def _class(kind: vocab.EncounterKind, planned: bool) -> tuple[Token, ...]:
    system, code, _ = _encounter_class(kind, planned)
    return ((system, code),)


def _period(visit: Visit) -> str:
    start = instant(visit.start)
    if visit.status != "finished":
        return '{"start":' + js(start) + "}"
    return '{"start":' + js(start) + ',"end":' + js(instant(visit.end)) + "}"


_REASON_CHANCE = {"Office Visit": 0.7, "Emergency": 0.9, "Cardiology Visit": 0.6, "Telephone": 0.5}


@cache
def _reason(reason: tuple[str, str, str, str]) -> str:
    code, text, snomed, snomed_display = reason
    return member("reasonCode", jd([{
        "coding": [
            {"system": vocab.VISIT_REASON_SYSTEM, "code": code, "display": text},
            {"system": vocab.SNOMED, "code": snomed, "display": snomed_display},
        ],
        "text": text,
    }]))  # fmt: skip


@cache
def _hospitalization_member(admit: tuple[str, str], discharge: tuple[str, str] | None) -> str:
    stay: dict = {"admitSource": _epic_concept(vocab.ADMIT_SOURCE_SYSTEM, *admit)}
    if discharge:
        stay["dischargeDisposition"] = _epic_concept(vocab.DISCHARGE_DISPOSITION_SYSTEM, *discharge)
    return member("hospitalization", jd(stay))


def _epic_concept(system: str, code: str, text: str) -> dict:
    return {"coding": [{"system": system, "code": code, "display": text}], "text": text}


def _hospitalization(rng: random.Random, visit: Visit) -> str:
    """Admit source and (once the stay is over) discharge disposition, for hospital encounters only."""
    if visit.kind.category_code != "3" or visit.status == "cancelled":
        return ""
    admit = vocab.EMERGENCY_ADMIT if visit.kind.name == "Emergency" else rng.choice(vocab.ADMIT_SOURCES)
    discharge = rng.choice(vocab.DISCHARGE_DISPOSITIONS) if visit.status == "finished" else None
    return _hospitalization_member(admit, discharge)


def _diagnosis_members(chart: Chart) -> dict[int, str]:
    """Visit index -> the ``diagnosis`` member listing that visit's encounter-diagnosis Conditions."""
    by_visit: dict[int, list[dict]] = {}
    for diagnosis in visit_diagnoses(chart):
        by_visit.setdefault(diagnosis.visit.index, []).append(
            {
                "condition": {"reference": f"Condition/{diagnosis.id}", "display": diagnosis.condition.text},
                "rank": diagnosis.rank,
            }
        )
    return {index: member("diagnosis", jd(entries)) for index, entries in by_visit.items()}


def encounters(chart: Chart) -> Iterator[Row]:
    rng = chart.rng(Stream.ENCOUNTER_DETAILS)
    diagnoses = _diagnosis_members(chart)
    subject = chart.subject
    for visit in chart.visits:
        kind = visit.kind
        account = ""
        if kind.category_code == "3":
            account = member(
                "account",
                jd(
                    [
                        {
                            "identifier": {
                                "system": f"{vocab.SITE}.2.726582",
                                "value": str(1000000 + chart.index * 64 + visit.index),
                            },
                            "display": chart.display.upper().replace(", ", ","),
                        }
                    ]
                ),
            )
        planned = visit.status == "planned"
        line = _template(kind, planned).render(
            {
                "id": js(visit.id),
                "csn": js(visit.csn),
                "status": js(visit.status),
                "service_type": _service_type(visit.practitioner),
                "subject": subject,
                "participant": _participants(visit),
                "period": _period(visit),
                "reason": _reason(rng.choice(vocab.VISIT_REASONS))
                if rng.random() < _REASON_CHANCE.get(kind.name, 0.0)
                else "",
                "diagnosis": diagnoses.get(visit.index, ""),
                "account": account,
                "hospitalization": _hospitalization(rng, visit),
                "location": _locations(visit.location, kind.name == "Surgery Admit"),
            }
        )
        # The Row's categories carry the class so that ``_typeFilter=Encounter?class=...`` works.
        yield Row(line, visit.status, instant(visit.start), _class(kind, planned), _types(kind))
