"""Clinical notes: DocumentReferences shaped like the sandbox capture, and the Binary bodies they point at.

Each note has an HTML rendition and, usually, an RTF one; ``content[].attachment.url`` is
``Binary/<id>`` with no inline data (EPIC.md §6). A Binary id decodes to (patient, note, format), so
:func:`render_binary` rebuilds just that patient's note plan to serve it.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from functools import cache
from typing import NamedTuple

from epic_assets.emulator.synthetic import vocab
from epic_assets.emulator.synthetic.chart import Chart, Stream, Visit, build_chart, instant, iso_date
from epic_assets.emulator.synthetic.encounters import practitioner_reference_json
from epic_assets.emulator.synthetic.ids import IdFactory, Kind
from epic_assets.emulator.synthetic.rows import Row, Token
from epic_assets.emulator.synthetic.template import Template, jd, js, member, optional, slot

NOTE_TYPE_SYSTEM = f"{vocab.SITE}.4.737880.5010"
NOTE_TYPE_GLOBAL = "urn:oid:1.2.840.114350.1.72.727879.69848980"
NOTE_ID_SYSTEM = f"{vocab.SITE}.2.727879"
CATEGORY_SYSTEM = "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category"
FORMAT = {
    "system": "http://ihe.net/fhir/ValueSet/IHE.FormatCode.codesystem",
    "code": "urn:ihe:iti:xds:2017:mimeTypeSufficient",
    "display": "mimeType Sufficient",
}
CATEGORY_TOKENS: tuple[Token, ...] = ((CATEGORY_SYSTEM, "clinical-note"),)
_NOPAT = "no disclosure to patient, family or caregivers without attending provider's authorization"


class Note(NamedTuple):
    number: int
    visit: Visit
    note_type: vocab.NoteType
    id: str
    html_id: str
    rtf_id: str | None
    written: int
    status: str  # docStatus
    sensitive: bool


def notes(chart: Chart) -> list[Note]:
    """The patient's notes, in visit order; the same for every caller with the same chart."""
    rng = chart.rng(Stream.DOCUMENTS)
    ids = chart.ids
    result: list[Note] = []
    for visit in chart.visits:
        if not visit.clinical:
            continue
        kinds = vocab.NOTES_BY_ENCOUNTER[visit.kind.name]
        if not kinds or rng.random() < 0.15:
            continue
        for key in kinds[: rng.randint(1, len(kinds))]:
            number = len(result)
            written = visit.end + rng.randrange(300, 7200)
            result.append(
                Note(
                    number=number,
                    visit=visit,
                    note_type=vocab.NOTE_TYPES[key],
                    id=ids.short(Kind.DOCUMENT_REFERENCE, chart.index, number),
                    html_id=ids.short(Kind.BINARY, chart.index, 2 * number),
                    rtf_id=ids.long_form(Kind.BINARY, chart.index, 2 * number + 1) if rng.random() < 0.6 else None,
                    written=written,
                    status="final" if rng.random() < 0.9 else "preliminary",
                    sensitive=rng.random() < 0.1,
                )
            )
    return result


_TEMPLATE = Template(
    {
        "resourceType": "DocumentReference",
        "id": slot("id"),
        "identifier": [
            {"system": NOTE_ID_SYSTEM, "value": slot("note_number")},
            {"system": "urn:oid:1.2.840.114350.1.72.3.15", "value": slot("note_oid")},
        ],
        "status": "current",
        "docStatus": slot("doc_status"),
        "type": slot("type"),
        "category": [
            {
                "coding": [{"system": CATEGORY_SYSTEM, "code": "clinical-note", "display": "Clinical Note"}],
                "text": "Clinical Note",
            }
        ],
        "subject": slot("subject"),
        "date": slot("date"),
        "author": [slot("author")],
        "custodian": {
            "identifier": {"system": "urn:ietf:rfc:3986", "value": f"{vocab.SITE}.3.688884.100"},
            "display": vocab.ORGANIZATION_NAME,
        },
        optional("security"): None,
        "content": slot("content"),
        "context": slot("context"),
    }
)


@cache
def _type(note_type: vocab.NoteType) -> str:
    return jd(
        {
            "coding": [
                {"system": NOTE_TYPE_SYSTEM, "code": note_type.code, "display": note_type.text},
                {"system": NOTE_TYPE_GLOBAL, "code": note_type.code, "display": note_type.text},
                {
                    "system": vocab.LOINC,
                    "code": note_type.loinc,
                    "display": note_type.loinc_display,
                    "userSelected": True,
                },
            ],
            "text": note_type.text,
        }
    )


_SECURITY = member(
    "securityLabel",
    jd(
        [
            {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "NOPAT", "display": _NOPAT}
                ],
                "text": _NOPAT,
            }
        ]
    ),
)


@cache
def _context_tail(practitioner: vocab.Practitioner) -> tuple[str, str]:
    """The parts of ``context`` that depend only on the author: provider-type extension, practice setting."""
    extension = jd(
        [
            {
                "valueCodeableConcept": {
                    "coding": [
                        {"system": f"{vocab.SITE}.4.836982.1040", "code": "1", "display": "Physician"},
                        {
                            "system": "urn:oid:2.16.840.1.113883.11.19465",
                            "code": practitioner.taxonomy,
                            "display": practitioner.taxonomy_display,
                        },
                    ],
                    "text": "Physician",
                },
                "url": "http://open.epic.com/FHIR/StructureDefinition/extension/clinical-note-author-provider-type",
            }
        ]
    )
    setting = jd(
        {
            "coding": [
                {
                    "system": f"{vocab.SITE}.4.836982.1050",
                    "code": practitioner.specialty_code,
                    "display": practitioner.specialty,
                }
            ],
            "text": practitioner.specialty,
        }
    )
    return extension, setting


_FORMAT_JSON = jd(FORMAT)


def _attachment(content_type: str, binary_id: str) -> str:
    return (
        '{"attachment":{"contentType":"'
        + content_type
        + '","url":"Binary/'
        + binary_id
        + '"},"format":'
        + _FORMAT_JSON
        + "}"
    )


def document_references(chart: Chart) -> Iterator[Row]:
    for note in notes(chart):
        visit = note.visit
        written = instant(note.written)
        content = [_attachment("text/html", note.html_id)]
        if note.rtf_id:
            content.append(_attachment("text/rtf", note.rtf_id))
        extension, setting = _context_tail(visit.practitioner)
        context = (
            '{"extension":'
            + extension
            + ',"encounter":['
            + visit.reference
            + '],"period":{"start":'
            + js(instant(visit.start))
            + '},"practiceSetting":'
            + setting
            + "}"
        )
        note_number = str(197000 + chart.index * 256 + note.number)
        line = _TEMPLATE.render(
            {
                "id": js(note.id),
                "note_number": js(note_number),
                "note_oid": js(f"{NOTE_ID_SYSTEM[8:]}_{note_number}"),
                "doc_status": js(note.status),
                "type": _type(note.note_type),
                "subject": chart.subject,
                "date": js(written),
                "author": practitioner_reference_json(visit.practitioner),
                "security": _SECURITY if note.sensitive else "",
                "content": "[" + ",".join(content) + "]",
                "context": context,
            }
        )
        codes = ((NOTE_TYPE_SYSTEM, note.note_type.code), (vocab.LOINC, note.note_type.loinc))
        yield Row(line, "current", written, CATEGORY_TOKENS, codes)


# ---------------------------------------------------------------- Binary


def _sentences(chart: Chart, note: Note) -> list[str]:
    rng = chart.rng(Stream.NOTES, note.number)
    return rng.sample(vocab.NOTE_SENTENCES, rng.randint(3, 6))


def _html(chart: Chart, note: Note) -> bytes:
    paragraphs = "".join(f"<p>{html.escape(sentence)}</p>" for sentence in _sentences(chart, note))
    title = html.escape(note.note_type.text)
    return (
        '<html><head><meta charset="utf-8"><title>' + title + "</title></head><body>"
        f"<h1>{title}</h1><div>Patient: {html.escape(chart.display)}</div>"
        f"<div>Date of service: {iso_date(note.visit.start)} ({html.escape(note.visit.kind.name)})</div>"
        f"<div>Author: {html.escape(note.visit.practitioner.display)}</div>{paragraphs}</body></html>"
    ).encode()


def _rtf_text(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("{", "\\{").replace("}", "\\}")
    # RTF is 7-bit: non-ASCII characters become \uN? escapes (N signed 16-bit).
    return "".join(ch if ord(ch) < 128 else f"\\u{ord(ch) if ord(ch) < 32768 else ord(ch) - 65536}?" for ch in escaped)


def _rtf(chart: Chart, note: Note) -> bytes:
    lines = [
        f"\\b {_rtf_text(note.note_type.text)}\\b0\\par",
        f"Patient: {_rtf_text(chart.display)}\\par",
        f"Date of service: {iso_date(note.visit.start)} ({_rtf_text(note.visit.kind.name)})\\par",
        f"Author: {_rtf_text(note.visit.practitioner.display)}\\par",
        *(f"{_rtf_text(sentence)}\\par" for sentence in _sentences(chart, note)),
    ]
    return ("{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 Arial;}}\\f0\\fs20 " + "\n".join(lines) + "}").encode("ascii")


def render_binary(binary_id: str, seed: int, patients: int | None = None) -> tuple[str, bytes] | None:
    """Content type and body of ``Binary/<binary_id>``, or None when no note of this seed points at it."""
    payload = IdFactory(seed).decode(binary_id)
    if payload is None or payload.kind is not Kind.BINARY:
        return None
    if patients is not None and payload.patient >= patients:
        return None
    chart = build_chart(seed, payload.patient)
    note_number, is_rtf = divmod(payload.item, 2)
    chart_notes = notes(chart)
    if note_number >= len(chart_notes):
        return None
    note = chart_notes[note_number]
    if is_rtf:
        return ("text/rtf", _rtf(chart, note)) if note.rtf_id == binary_id else None
    return ("text/html", _html(chart, note)) if note.html_id == binary_id else None
