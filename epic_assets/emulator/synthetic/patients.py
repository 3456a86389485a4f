"""Patient resources shaped like the sandbox's ``Patient/erXuFYUfucBZaryVksYEcMg3``.

One Patient per chart (about 1% of an export), so these are built as dicts and serialised with the
compact encoder; the variety (optional extensions, old addresses, extra languages) matters more here
than raw speed.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator

from epic_assets.emulator.synthetic import vocab
from epic_assets.emulator.synthetic.chart import AS_OF, DAY, YEAR, Chart, Stream, iso_date
from epic_assets.emulator.synthetic.ids import Kind
from epic_assets.emulator.synthetic.rows import Row
from epic_assets.emulator.synthetic.template import jd

GENDER_SYSTEM = "http://hl7.org/fhir/administrative-gender"
EPIC_EXT = "http://open.epic.com/FHIR/StructureDefinition/extension"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition"
_SEX_SYSTEM = f"{vocab.SITE}.10.698084.130.657370.19999000"
_US_CORE_SEX = {"female": "248152002", "male": "248153007", "unknown": "32570681000036106"}
_PRONOUNS = {
    "female": ("LA29519-8", "she/her/her/hers/herself"),
    "male": ("LA29518-0", "he/him/his/his/himself"),
    "unknown": ("LA29520-6", "they/them/their/theirs/themselves"),
}
_ABILITY = "http://terminology.hl7.org/CodeSystem/v3-LanguageAbilityMode"
_PROFICIENCY = "http://hl7.org/fhir/StructureDefinition/patient-proficiency"
_PREFERENCE = "http://hl7.org/fhir/StructureDefinition/patient-preferenceType"
_PREFERENCE_SYSTEM = "http://hl7.org/fhir/language-preference-type"

#: The MRN's label and OID; sites differ (EPIC.md §6), the sandbox calls it "EPI".
MRN_TYPE_TEXT = "EPI"
MRN_SYSTEM = f"{vocab.SITE}.5.737384.14"


def _sex(code: str, text: str | None) -> dict:
    concept: dict = {"coding": [{"system": _SEX_SYSTEM, "code": code, "display": code}]}
    if text:
        concept["text"] = text
    return concept


def _race_or_ethnicity(url: str, entry: tuple[str | None, str, str]) -> dict:
    code, display, text = entry
    parts: list[dict] = []
    if code:
        parts.append(
            {
                "valueCoding": {"system": "urn:oid:2.16.840.1.113883.6.238", "code": code, "display": display},
                "url": "ombCategory",
            }
        )
    parts.append({"valueString": text, "url": "text"})
    return {"extension": parts, "url": url}


def _extensions(chart: Chart, rng: random.Random) -> list[dict]:
    gender = chart.gender
    extensions = [
        {"valueCodeableConcept": _sex(gender, gender.capitalize()), "url": f"{EPIC_EXT}/legal-sex"},
        {"valueCodeableConcept": _sex(gender, None), "url": f"{EPIC_EXT}/sex-for-clinical-use"},
        _race_or_ethnicity(f"{US_CORE}/us-core-race", rng.choice(vocab.RACES)),
        _race_or_ethnicity(f"{US_CORE}/us-core-ethnicity", rng.choice(vocab.ETHNICITIES)),
        {"valueCode": _US_CORE_SEX[gender], "url": f"{US_CORE}/us-core-sex"},
    ]
    if rng.random() < 0.8:
        code, display = _PRONOUNS[gender]
        extensions.append(
            {
                "valueCodeableConcept": {"coding": [{"system": vocab.LOINC, "code": code, "display": display}]},
                "url": f"{EPIC_EXT}/calculated-pronouns-to-use-for-text",
            }
        )
    return extensions


def _identifier(text: str, system: str, value: str, coding: dict | None = None) -> dict:
    kind: dict = {"coding": [coding], "text": text} if coding else {"text": text}
    return {"use": "usual", "type": kind, "system": system, "value": value}


def _identifiers(chart: Chart, rng: random.Random) -> list[dict]:
    k = chart.index
    external = f"Z{1000 + k * 10 + rng.randrange(10)}"
    dstu2 = chart.ids.long_form(Kind.DSTU2_PATIENT, k)
    identifiers = [
        _identifier(
            "CEID", f"{vocab.SITE}.3.688884.100", "".join(rng.choices(string.ascii_uppercase + string.digits, k=15))
        ),
        _identifier("EPIC", f"{vocab.SITE}.5.737384.0", f"E{4000 + k * 10 + rng.randrange(10)}"),
        _identifier(
            "EXTERNAL",
            f"{vocab.SITE}.2.698084",
            external,
            {"system": "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBIdentifierType", "code": "um"},
        ),
        _identifier(
            "FHIR", "http://open.epic.com/FHIR/StructureDefinition/patient-dstu2-fhir-id", "T" + dstu2[1:44] + "B"
        ),
        _identifier("FHIR STU3", "http://open.epic.com/FHIR/StructureDefinition/patient-fhir-id", chart.patient_id),
        # Epic right-aligns the internal id in a ten-character field.
        _identifier("INTERNAL", f"{vocab.SITE}.2.698084", external.rjust(10)),
        _identifier(MRN_TYPE_TEXT, MRN_SYSTEM, str(200000 + k * 10 + rng.randrange(10))),
    ]
    if rng.random() < 0.4:
        login = ("FHIR" + chart.given[0].split()[0]).upper()
        identifiers.append(_identifier("MYCHARTLOGIN", f"{vocab.SITE}.3.878082.110", login))
    identifiers.append(_identifier("WPRINTERNAL", f"{vocab.SITE}.2.878082", str(700 + k * 3 + rng.randrange(3))))
    return identifiers


def _names(chart: Chart, rng: random.Random) -> list[dict]:
    text = " ".join((*chart.given, chart.family, *([chart.suffix] if chart.suffix else [])))
    official: dict = {"use": "official", "text": text, "family": chart.family, "given": list(chart.given)}
    if chart.suffix:
        official["suffix"] = [chart.suffix]
    usual = dict(official, use="usual")
    if rng.random() < 0.1:  # a preferred first name differs from the legal one
        nickname = chart.given[0][:3] if len(chart.given[0]) > 4 else chart.given[0]
        usual = {"use": "usual", "text": f"{nickname} {chart.family}", "family": chart.family, "given": [nickname]}
    return [official, usual]


def _address(rng: random.Random, use: str, start: int, end: int | None) -> dict:
    number = rng.randrange(100, 9999)
    street = rng.choice(vocab.STREETS)
    city, district, state, zip_prefix = rng.choice(vocab.CITIES)
    postal = f"{zip_prefix}{rng.randrange(100):02d}"
    lines = [f"{number} {street}"]
    if rng.random() < 0.25:
        lines.append(f"Apt {rng.randrange(1, 400)}")
    address: dict = {
        "use": use,
        "text": "\r\n".join([" ".join(lines), f"{city} {state} {postal}", "United States of America"]),
        "line": lines,
        "city": city,
        "district": district,
        "state": state,
        "postalCode": postal,
        "country": "US",
        "period": {"start": iso_date(start)} if end is None else {"start": iso_date(start), "end": iso_date(end)},
    }
    return address


def _addresses(chart: Chart, rng: random.Random) -> list[dict]:
    moved = chart.record_end - rng.randrange(60, 12 * 365) * DAY
    moved = max(moved, chart.birth + DAY)
    addresses = [_address(rng, "home", moved, None)]
    if rng.random() < 0.35 and moved - chart.birth > 2 * YEAR:
        addresses.append(_address(rng, "old", max(chart.birth, moved - rng.randrange(2, 15) * YEAR), moved - DAY))
    return addresses


def _telecom(chart: Chart, rng: random.Random) -> list[dict]:
    area = rng.choice(vocab.AREA_CODES)
    telecom = [
        {
            "system": "phone",
            "value": f"+1 {area}-{rng.randrange(200, 999)}-{rng.randrange(10000):04d}",
            "use": "home",
            "rank": 1,
        }
    ]
    if rng.random() < 0.7:
        telecom.append(
            {
                "system": "phone",
                "value": f"+1 {area}-{rng.randrange(200, 999)}-{rng.randrange(10000):04d}",
                "use": "mobile",
                "rank": 2,
            }
        )
    if rng.random() < 0.3 and AS_OF - chart.birth > 18 * YEAR:
        telecom.append(
            {
                "system": "phone",
                "value": f"+1 {area}-{rng.randrange(200, 999)}-{rng.randrange(10000):04d}",
                "use": "work",
                "rank": len(telecom) + 1,
            }
        )
    if rng.random() < 0.6:
        local = f"{chart.given[0].split()[0]}.{chart.family}".lower().replace("'", "")
        telecom.append({"system": "email", "value": f"{local}{rng.randrange(100)}@example.com"})
    return telecom


def _proficiency(code: str, display: str) -> dict:
    return {
        "extension": [{"valueCoding": {"system": _ABILITY, "code": code, "display": display}, "url": "type"}],
        "url": _PROFICIENCY,
    }


def _communication(rng: random.Random) -> list[dict]:
    first = vocab.LANGUAGES[0] if rng.random() < 0.8 else rng.choice(vocab.LANGUAGES[1:])
    languages = [first]
    if rng.random() < 0.15:
        second = rng.choice(vocab.LANGUAGES)
        if second != first:
            languages.append(second)
    communication = []
    for position, (code, display) in enumerate(languages):
        entry: dict = {
            "extension": [_proficiency("ESP", "Expressed spoken"), _proficiency("EWR", "Expressed written")],
            "language": {"coding": [{"system": "urn:ietf:bcp:47", "code": code, "display": display}], "text": display},
        }
        if position == 0:
            entry["preferred"] = True
            entry["_preferred"] = {
                "extension": [
                    {"valueCoding": {"system": _PREFERENCE_SYSTEM, "code": kind, "display": kind}, "url": _PREFERENCE}
                    for kind in ("verbal", "written")
                ]
            }
        communication.append(entry)
    return communication


def patient_resource(chart: Chart) -> dict:
    rng = chart.rng(Stream.CORE, 1)
    resource: dict = {
        "resourceType": "Patient",
        "id": chart.patient_id,
        "extension": _extensions(chart, rng),
        "identifier": _identifiers(chart, rng),
        "active": True,
        "name": _names(chart, rng),
        "telecom": _telecom(chart, rng),
        "gender": chart.gender,
        "birthDate": iso_date(chart.birth),
    }
    if chart.deceased is None:
        resource["deceasedBoolean"] = False
    else:
        resource["deceasedDateTime"] = iso_date(chart.deceased)
    resource["address"] = _addresses(chart, rng)
    resource["maritalStatus"] = {"text": rng.choice(vocab.MARITAL) if chart.age_years >= 18 else "Single"}
    resource["communication"] = _communication(rng)
    resource["generalPractitioner"] = [
        {"reference": f"Practitioner/{chart.pcp.id}", "type": "Practitioner", "display": chart.pcp.display}
    ]
    resource["managingOrganization"] = {"reference": vocab.ORGANIZATION_REF, "display": vocab.ORGANIZATION_NAME}
    return resource


def patients(chart: Chart) -> Iterator[Row]:
    gender = ((GENDER_SYSTEM, chart.gender),)
    yield Row(jd(patient_resource(chart)), "active", iso_date(chart.birth), (), gender)
