"""One synthetic patient's skeleton: demographics, encounters and the clinical plan shared across types.

Every random choice comes from ``random.Random`` streams keyed by (seed, patient index, stream), so
patient k's data never depends on how many patients are generated or which types are exported, and a
resource type can be regenerated alone (the DiagnosticReport builder sees the same lab panels the
Observation builder emitted).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from enum import IntEnum
from functools import cached_property, lru_cache

from epic_assets.emulator.synthetic import vocab
from epic_assets.emulator.synthetic.ids import IdFactory, Kind, seed_keys
from epic_assets.emulator.synthetic.template import Template, js, slot

# The data is anchored to a fixed "today" (the date of the sandbox captures) so output never depends on
# the wall clock.
AS_OF = 1777212000  # 2026-04-26T14:00:00Z
DAY = 86400
YEAR = 365 * DAY


class Stream(IntEnum):
    CORE = 0
    VITALS = 1
    LABS = 2
    CONDITIONS = 3
    IMMUNIZATIONS = 4
    MEDICATIONS = 5
    ALLERGIES = 6
    PROCEDURES = 7
    DOCUMENTS = 8
    NOTES = 9
    SOCIAL_HISTORY = 10
    ENCOUNTER_DETAILS = 11


def instant(epoch: int) -> str:
    """FHIR instant in UTC, the way Epic writes them (``2023-06-06T16:20:00Z``)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def iso_date(epoch: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(epoch))


@dataclass(slots=True)
class Visit:
    """One encounter as other resources see it (reference fragment, dates, who and where)."""

    index: int
    id: str
    csn: str
    kind: vocab.EncounterKind
    status: str
    start: int
    end: int
    practitioner: vocab.Practitioner
    location: tuple[str, str]
    reference: str  # JSON fragment: {"reference":"Encounter/..","identifier":{..},"display":".."}

    @property
    def clinical(self) -> bool:
        """Only encounters that happened carry observations, notes and diagnoses."""
        return self.status == "finished"


@dataclass
class Chart:
    seed: int
    index: int
    ids: IdFactory
    patient_id: str
    gender: str
    given: tuple[str, ...]
    family: str
    suffix: str | None
    birth: int
    deceased: int | None
    pcp: vocab.Practitioner
    visits: list[Visit] = field(default_factory=list)
    chronic: tuple[vocab.ConditionCode, ...] = ()
    _key: int = 0
    # Plans that two resource types share (lab orders feed Observation and DiagnosticReport).
    memo: dict[str, object] = field(default_factory=dict)

    @property
    def display(self) -> str:
        """Epic's reference display: ``Family, Given Middle Suffix``."""
        name = f"{self.family}, {' '.join(self.given)}"
        return f"{name} {self.suffix}" if self.suffix else name

    @cached_property
    def subject(self) -> str:
        return '{"reference":' + js("Patient/" + self.patient_id) + ',"display":' + js(self.display) + "}"

    @property
    def age_years(self) -> int:
        return (AS_OF - self.birth) // YEAR

    @property
    def record_end(self) -> int:
        """Nothing is charted after this: the patient's death, or "today"."""
        return self.deceased if self.deceased is not None else AS_OF

    def rng(self, stream: Stream, item: int = 0) -> random.Random:
        return random.Random(self._key ^ (item << 8) ^ int(stream))  # noqa: S311 - synthetic data, not security

    @property
    def clinical_visits(self) -> list[Visit]:
        return [visit for visit in self.visits if visit.clinical]


def _patient_key(seed: int, index: int) -> int:
    return seed_keys(seed)[6] ^ (index << 40)


def patient_id(seed: int, index: int) -> str:
    return IdFactory(seed).short(Kind.PATIENT, index)


def _age_seconds(rng: random.Random) -> int:
    bucket = rng.random()
    if bucket < 0.12:
        years = rng.uniform(0.2, 18)
    elif bucket < 0.75:
        years = rng.uniform(18, 65)
    else:
        years = rng.uniform(65, 96)
    return int(years * YEAR)


_ENCOUNTER_REFERENCE = Template(
    {
        "reference": slot("reference"),
        "identifier": {"use": "usual", "system": vocab.ENCOUNTER_CSN_SYSTEM, "value": slot("csn")},
        "display": slot("display"),
    }
)


def _encounter_reference(visit_id: str, csn: str, display: str) -> str:
    return _ENCOUNTER_REFERENCE.render(
        {"reference": js("Encounter/" + visit_id), "csn": js(csn), "display": js(display)}
    )


_UNSCHEDULED = frozenset({"Emergency", "Hospital Encounter"})
_KIND_WEIGHTS = [kind.weight for kind in vocab.ENCOUNTER_KINDS]


def _visits(chart: Chart, rng: random.Random) -> list[Visit]:
    count = rng.randint(5, 15)
    first = max(chart.birth + 30 * DAY, AS_OF - 9 * YEAR)
    last = chart.deceased if chart.deceased is not None else AS_OF
    kinds = rng.choices(vocab.ENCOUNTER_KINDS, weights=_KIND_WEIGHTS, k=count)
    pediatric = chart.age_years < 18
    base_csn = 27000 + chart.index * 53 + rng.randrange(20)
    timed = []
    for kind in kinds:
        day = rng.randrange(first, last - DAY) // DAY * DAY
        # Clinic hours in US Central time (UTC-5/6) are 13:00-23:00Z; hospital stays start at any hour.
        start = day + (13 * 3600 + rng.randrange(10 * 3600) if kind.hours < 5 else rng.randrange(DAY))
        length = int(kind.hours * 3600 * rng.uniform(0.6, 1.6))
        # A stay must be over (and its notes written) before "today" or the patient's death.
        start = max(first, min(start, last - 2 * DAY - length))
        timed.append((start, length, kind))
    timed.sort(key=lambda entry: entry[0])
    visits = []
    for index, (start, length, kind) in enumerate(timed):
        end = start + length
        status = "finished"
        roll = rng.random()
        # Only scheduled visits get cancelled or lie ahead; nobody books an emergency.
        scheduled = kind.name not in _UNSCHEDULED
        if roll < 0.04 and scheduled:
            status = "cancelled"
        elif index == count - 1 and chart.deceased is None and roll < 0.25 and scheduled:
            # The latest visit is sometimes still ahead of "today".
            status, start = "planned", AS_OF + rng.randrange(2, 60) * DAY + 15 * 3600
            end = start
        office = pediatric and kind.name == "Office Visit"
        practitioner = vocab.PEDIATRICIAN if office else vocab.PRACTITIONERS[rng.choice(kind.practitioners)]
        location = vocab.PEDIATRIC_OFFICE if office else kind.location
        visit_id = chart.ids.short(Kind.ENCOUNTER, chart.index, index)
        csn = str(base_csn * 16 + index)
        reference = _encounter_reference(visit_id, csn, kind.name)
        visits.append(Visit(index, visit_id, csn, kind, status, start, end, practitioner, location, reference))
    return visits


@lru_cache(maxsize=256)
def _ids(seed: int) -> IdFactory:
    return IdFactory(seed)


def build_chart(seed: int, index: int) -> Chart:
    key = _patient_key(seed, index)
    rng = random.Random(key)  # noqa: S311 - synthetic data, not security
    ids = _ids(seed)
    roll = rng.random()
    gender = "female" if roll < 0.505 else "male" if roll < 0.995 else "unknown"
    female = gender == "female" or (gender == "unknown" and rng.random() < 0.5)
    pool, middles = (vocab.FEMALE_GIVEN, vocab.FEMALE_MIDDLE) if female else (vocab.MALE_GIVEN, vocab.MALE_MIDDLE)
    given = (rng.choice(pool),) + ((rng.choice(middles),) if rng.random() < 0.7 else ())
    family = rng.choice(vocab.FAMILY)
    suffix = rng.choice(vocab.SUFFIXES) if gender == "male" and rng.random() < 0.05 else None
    birth = AS_OF - _age_seconds(rng)
    birth -= birth % DAY
    deceased = None
    if rng.random() < 0.03 and AS_OF - birth > 20 * YEAR:
        deceased = AS_OF - rng.randrange(30, 3 * 365) * DAY
    chart = Chart(
        seed=seed,
        index=index,
        ids=ids,
        patient_id=ids.short(Kind.PATIENT, index),
        gender=gender,
        given=given,
        family=family,
        suffix=suffix,
        birth=birth,
        deceased=deceased,
        pcp=vocab.PEDIATRICIAN if AS_OF - birth < 18 * YEAR else rng.choice(vocab.PRIMARY_CARE),
        _key=key,
    )
    chart.visits = _visits(chart, rng)
    adult = chart.age_years >= 18
    chronic_count = rng.choice((0, 1, 1, 2, 2, 3, 4)) if adult else rng.choice((0, 0, 1))
    chart.chronic = tuple(rng.sample(vocab.CHRONIC_CONDITIONS, chronic_count))
    return chart
