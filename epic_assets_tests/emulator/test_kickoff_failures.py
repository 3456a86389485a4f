"""Kick-offs Epic is reported to fail although they are well-formed (EPIC.md section 3)."""

from __future__ import annotations

import pytest
import requests

from epic_assets_tests.emulator.conftest import EmulatorFactory, EpicTestClient


def assert_text_only_400(response: requests.Response) -> str:
    assert response.status_code == 400
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    (issue,) = outcome["issue"]
    assert issue["severity"] == "fatal"
    assert "coding" not in issue["details"]  # Epic's code for this failure is not on record
    return issue["diagnostics"]


def test_patient_only_fails_fault_refuses_type_patient_alone(start_emulator: EmulatorFactory) -> None:
    client = start_emulator("patient-only-fails")
    client.authorize()
    assert "Patient alone" in assert_text_only_400(client.kickoff("_type=patient"))
    # The refusal takes no 24-hour slot, and Patient with other types still works.
    assert client.kickoff("_type=Patient,Condition").status_code == 202


def test_type_patient_alone_works_without_the_fault(epic: EpicTestClient) -> None:
    assert epic.kickoff("_type=Patient").status_code == 202


@pytest.mark.parametrize(
    "category",
    ["procedure", "therapy", "activity", "laboratory%2Cactivity",
     "http%3A%2F%2Fterminology.hl7.org%2FCodeSystem%2Fobservation-category%7Ctherapy"],
)  # fmt: skip
def test_observation_type_filter_on_a_failing_category_is_refused(epic: EpicTestClient, category: str) -> None:
    response = epic.kickoff(f"_type=Observation&_typeFilter=Observation%3Fcategory%3D{category}")
    assert "cannot be used in _typeFilter" in assert_text_only_400(response)


def test_other_observation_categories_still_filter(epic: EpicTestClient) -> None:
    _, manifest = epic.export("_type=Observation&_typeFilter=Observation%3Fcategory%3Dlaboratory")
    assert [entry["type"] for entry in manifest["output"]] == ["Observation"]
