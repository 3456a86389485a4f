"""Shapes the captured samples and Synthea do not contain, built here from the FHIR R4 / Epic documentation.

Synthea has no allergy reactions, no medicationReference and no performedDateTime; Epic sends all three.
Expectations are computed from the constructed resources, not typed in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from epic_assets.views import JsonTextSource, compile_view, load_view
from epic_assets.views.library import load_view_json, view_names
from epic_assets_tests.views.test_library_support import (
    ViewRunner,
    as_utc,
    by_id,
    fhir_instant,
    first_coding_in,
    iter_sample_resources,
    ndjson_files,
    run_library_view,
    write_ndjson,
)

EPIC_OID = "urn:oid:1.2.840.114350.1.13.0.1.7.2.768282"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CPT = "http://www.ama-assn.org/go/cpt"


def concept(*codings: tuple[str, str, str], text: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"coding": [{"system": s, "code": c, "display": d} for s, c, d in codings]}
    if text:
        out["text"] = text
    return out


ALLERGY = {
    "resourceType": "AllergyIntolerance",
    "id": "allergy-1",
    "clinicalStatus": concept(
        ("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", "Active")
    ),
    "code": concept((EPIC_OID, "7", "PENICILLINS"), (RXNORM, "7980", "Penicillin G"), text="Penicillins"),
    "patient": {"reference": "Patient/p1"},
    "recordedDate": "2019-03",
    "reaction": [
        {
            "manifestation": [concept((EPIC_OID, "12", "Rash"), (SNOMED, "271807003", "Skin rash"), text="Rash")],
            "severity": "mild",
        },
        {
            "manifestation": [
                concept((EPIC_OID, "19", "Hives"), text="Hives"),
                concept((SNOMED, "39579001", "Anaphylaxis"), text="Anaphylaxis"),
            ],
            "severity": "severe",
            "onset": "2020-01-02T03:04:05Z",
        },
    ],
}
MEDICATION_REQUESTS = [
    {
        "resourceType": "MedicationRequest",
        "id": "med-by-reference",
        "status": "active",
        "intent": "order",
        "medicationReference": {"reference": "Medication/eMed123", "display": "lisinopril 10 MG tablet"},
        "subject": {"reference": "Patient/p1"},
        "encounter": {"reference": "Encounter/e1"},
        "authoredOn": "2021-02-03",
        "dosageInstruction": [{"text": "Take 1 tablet by mouth daily"}],
    },
    {
        "resourceType": "MedicationRequest",
        "id": "med-by-code",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": concept(
            (EPIC_OID, "5678", "LISINOPRIL 10 MG PO TABS"), (RXNORM, "314076", "lisinopril 10 MG Oral Tablet")
        ),
        "subject": {"reference": "Patient/p1"},
        "authoredOn": "2021-02-03T10:00:00-05:00",
    },
]
PROCEDURE = {
    "resourceType": "Procedure",
    "id": "proc-1",
    "status": "completed",
    "code": concept((CPT, "45378", "Colonoscopy"), (SNOMED, "73761001", "Colonoscopy (procedure)")),
    "subject": {"reference": "Patient/p1"},
    "performedDateTime": "2020-05-01T10:00:00-05:00",
}


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("shapes")
    write_ndjson(directory, [ALLERGY, *MEDICATION_REQUESTS, PROCEDURE])
    return directory


def test_allergy_reactions_one_row_each_with_snomed_manifestation(shapes: Path) -> None:
    (allergy,) = run_library_view("allergy_intolerance", shapes)
    rxnorm = first_coding_in(ALLERGY["code"], [RXNORM])
    assert (allergy["code"], allergy["code_system"], allergy["code_text"]) == (
        rxnorm["code"],
        RXNORM,
        ALLERGY["code"]["text"],
    )
    assert allergy["clinical_status"] == "active"
    assert allergy["reaction_count"] == len(ALLERGY["reaction"])
    assert as_utc(allergy["recorded_date_at"]) == fhir_instant(ALLERGY["recordedDate"])
    rows = sorted(run_library_view("allergy_intolerance_reaction", shapes), key=lambda r: r["reaction_index"])
    assert [row["reaction_index"] for row in rows] == list(range(len(ALLERGY["reaction"])))
    for row, reaction in zip(rows, ALLERGY["reaction"], strict=True):
        every_coding = {"coding": [c for m in reaction["manifestation"] for c in m["coding"]]}
        snomed = first_coding_in(every_coding, [SNOMED])
        assert (row["manifestation_code"], row["manifestation_display"]) == (snomed["code"], snomed["display"])
        assert row["manifestation_count"] == len(reaction["manifestation"])
        assert row["severity"] == reaction["severity"]
        assert row["patient_id"] == "p1" and row["allergy_intolerance_id"] == ALLERGY["id"]
    # The text belongs to the manifestation that carries the SNOMED coding, not simply the first one.
    assert rows[1]["manifestation_text"] == ALLERGY["reaction"][1]["manifestation"][1]["text"]


def test_medication_reference_is_kept_as_a_key_and_rxnorm_beats_epic(shapes: Path) -> None:
    rows = by_id(run_library_view("medication_request", shapes))
    by_reference, by_code = MEDICATION_REQUESTS
    row = rows[by_reference["id"]]
    assert row["medication_id"] == by_reference["medicationReference"]["reference"].split("/", 1)[1]
    assert row["medication_reference_display"] == by_reference["medicationReference"]["display"]
    assert row["medication_code"] is None
    assert row["dosage_text"] == by_reference["dosageInstruction"][0]["text"]
    assert as_utc(row["authored_on_at"]) == fhir_instant(by_reference["authoredOn"])
    row = rows[by_code["id"]]
    rxnorm = first_coding_in(by_code["medicationCodeableConcept"], [RXNORM])
    assert (row["medication_code"], row["medication_system"]) == (rxnorm["code"], RXNORM)
    assert row["medication_id"] is None
    assert as_utc(row["authored_on_at"]) == fhir_instant(by_code["authoredOn"])


def test_procedure_performed_date_time_and_snomed_over_cpt(shapes: Path) -> None:
    (row,) = run_library_view("procedure", shapes)
    snomed = first_coding_in(PROCEDURE["code"], [SNOMED])
    assert (row["code"], row["code_system"]) == (snomed["code"], SNOMED)
    assert row["performed_start"] == PROCEDURE["performedDateTime"]
    assert as_utc(row["performed_start_at"]) == fhir_instant(PROCEDURE["performedDateTime"])
    assert row["performed_end"] is None and row["performed_end_at"] is None


@pytest.fixture(scope="module")
def everything(epic_samples: Path, tmp_path_factory: pytest.TempPathFactory) -> ViewRunner:
    """The Epic samples plus the constructed shapes: every shipped view's resource type is present."""
    directory = tmp_path_factory.mktemp("everything")
    write_ndjson(directory, [*iter_sample_resources(epic_samples), ALLERGY, *MEDICATION_REQUESTS, PROCEDURE])
    return ViewRunner(directory)


@pytest.mark.parametrize("name", view_names())
def test_json_text_in_duckdb_gives_the_same_rows_as_ndjson(everything: ViewRunner, name: str) -> None:
    """The warehouse reads raw JSON text already in DuckDB; every view must give the same table from it."""
    view = load_view_json(name)
    compiled = compile_view(load_view(view))
    lines = [
        line
        for path in ndjson_files(everything.directory, view["resource"])
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    with duckdb.connect() as connection:
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute("CREATE TABLE raw (resource VARCHAR)")
        connection.executemany("INSERT INTO raw VALUES (?)", [[line] for line in lines])
        cursor = connection.execute(compiled.sql(JsonTextSource(query="SELECT resource FROM raw", column="resource")))
        names = [column[0] for column in cursor.description]
        from_text = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    assert lines, f"no {view['resource']} input"
    assert sorted(map(repr, from_text)) == sorted(map(repr, everything.rows(name)))
