"""Group kick-off, polling, manifests, files and DELETE as Epic does them (EPIC.md sections 3-5)."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from epic_assets.emulator import ManualClock, synthetic
from epic_assets_tests.emulator.conftest import EmulatorFactory, EpicTestClient

STATUS_PATH = re.compile(r"/api/FHIR/BulkRequest/[0-9A-F]{32}")
FILE_PATH = re.compile(r"/api/FHIR/BulkRequest/[0-9A-F]{32}/[A-Za-z0-9]+")
TOO_RECENT = "Request not allowed: The Client requested this Group too recently."


def issue_codes(outcomes: list[dict]) -> list[tuple[str, str]]:
    return [
        (issue["severity"], coding["code"])
        for outcome in outcomes
        for issue in outcome["issue"]
        for coding in issue.get("details", {}).get("coding", [])
    ]


def test_kickoff_answers_202_with_an_empty_body_and_the_status_url(epic: EpicTestClient) -> None:
    response = epic.kickoff("_type=Patient")
    assert response.status_code == 202
    assert response.content == b""
    status_url = response.headers["Content-Location"]
    assert status_url.startswith(epic.emulator.root_url)
    assert STATUS_PATH.fullmatch(urlsplit(status_url).path)


def test_kickoff_without_prefer_respond_async_is_refused(epic: EpicTestClient) -> None:
    response = epic.kickoff("_type=Patient", prefer=None)
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_unknown_group_is_a_59008_operation_outcome(epic: EpicTestClient, epic_samples) -> None:
    response = epic.kickoff("_type=Patient", group_id="no-such-group")
    assert response.status_code == 404
    assert response.json() == json.loads((epic_samples / "OperationOutcome.404.59008.json").read_text())


def test_manifest_has_epics_shape(epic: EpicTestClient, epic_samples) -> None:
    query = "_type=patient,OBSERVATION"
    _, manifest = epic.export(query)
    sample = json.loads((epic_samples / "bulk-manifest.sandbox.2024-05-09.json").read_text())
    assert set(manifest) == set(sample)
    assert manifest["requiresAccessToken"] == "true"
    assert manifest["request"] == f"{epic.emulator.base_url}/Group/{epic.emulator.group_id}/$export?{query}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", manifest["transactionTime"])
    assert manifest["error"] == []
    assert {entry["type"] for entry in manifest["output"]} == {"Patient", "Observation"}
    for entry in manifest["output"]:
        assert set(entry) == {"type", "url"}  # no count, like Epic
        assert FILE_PATH.fullmatch(urlsplit(entry["url"]).path)
        assert not entry["url"].endswith(".ndjson")


def test_files_hold_the_requested_types_for_every_group_patient(epic: EpicTestClient) -> None:
    _, manifest = epic.export("_type=Patient,Observation")
    by_type: dict[str, list[dict]] = {}
    for entry in manifest["output"]:
        by_type.setdefault(entry["type"], []).extend(epic.ndjson(entry["url"]))
    patient_ids = {patient["id"] for patient in by_type["Patient"]}
    assert patient_ids == set(synthetic.group_patient_ids(4, 0))
    assert by_type["Observation"]
    assert all(obs["resourceType"] == "Observation" for obs in by_type["Observation"])
    assert {obs["subject"]["reference"].removeprefix("Patient/") for obs in by_type["Observation"]} <= patient_ids


def test_files_are_split_at_the_configured_size(start_emulator: EmulatorFactory) -> None:
    client = start_emulator(patients=7, max_per_file=3)
    client.authorize()
    _, manifest = client.export("_type=Patient")
    sizes = [len(client.ndjson(entry["url"])) for entry in manifest["output"]]
    assert sizes == [3, 3, 1]
    assert [entry["type"] for entry in manifest["output"]] == ["Patient"] * 3


def test_without_type_every_supported_type_is_exported(epic: EpicTestClient) -> None:
    _, manifest = epic.export("")
    assert {entry["type"] for entry in manifest["output"]} <= set(synthetic.SUPPORTED_TYPES)
    assert {"Patient", "Observation"} <= {entry["type"] for entry in manifest["output"]}


def observation_categories(client: EpicTestClient, manifest: dict) -> list[set[str]]:
    return [
        {coding.get("code") for category in observation["category"] for coding in category.get("coding", [])}
        for entry in manifest["output"]
        for observation in client.ndjson(entry["url"])
    ]


def test_type_filter_is_applied(epic: EpicTestClient) -> None:
    _, manifest = epic.export("_type=Observation&_typeFilter=Observation%3Fcategory%3Dlaboratory")
    categories = observation_categories(epic, manifest)
    assert categories
    assert all("laboratory" in codes for codes in categories)


def test_an_escaped_comma_stays_inside_one_filter(epic: EpicTestClient) -> None:
    # %2C is a comma inside the filter (category is laboratory OR vital-signs), not a filter separator.
    _, manifest = epic.export("_type=Observation&_typeFilter=Observation%3Fcategory%3Dlaboratory%2Cvital-signs")
    categories = observation_categories(epic, manifest)
    assert any("laboratory" in codes for codes in categories)
    assert any("vital-signs" in codes for codes in categories)
    assert all(codes & {"laboratory", "vital-signs"} for codes in categories)


def test_a_literal_comma_separates_filters(start_emulator: EmulatorFactory) -> None:
    client = start_emulator("cooldown=0")
    client.authorize()
    # Two filters for one type are OR-ed; "vital-signs" alone after a bare comma is not a filter.
    _, manifest = client.export(
        "_type=Observation&_typeFilter=Observation%3Fcategory%3Dlaboratory,Observation%3Fcategory%3Dvital-signs"
    )
    assert {"laboratory", "vital-signs"} <= set().union(*observation_categories(client, manifest))
    assert (
        client.kickoff("_type=Observation&_typeFilter=Observation%3Fcategory%3Dlaboratory,vital-signs").status_code
        == 400
    )


def test_type_filter_without_type_is_refused(epic: EpicTestClient) -> None:
    response = epic.kickoff("_typeFilter=Observation%3Fcategory%3Dlaboratory")
    assert response.status_code == 400
    assert "_typeFilter" in response.json()["issue"][0]["diagnostics"]


def test_type_filter_for_a_type_not_requested_is_refused(epic: EpicTestClient) -> None:
    response = epic.kickoff("_type=Patient&_typeFilter=Observation%3Fcategory%3Dlaboratory")
    assert response.status_code == 400


def test_unknown_parameters_are_ignored_and_reported_as_59100(epic: EpicTestClient) -> None:
    _, manifest = epic.export("_type=Patient&_since=2024-01-01T00:00:00Z&bogus=1")
    assert [entry["type"] for entry in manifest["output"]] == ["Patient"]
    assert [entry["type"] for entry in manifest["error"]] == ["OperationOutcome"]
    outcomes = epic.ndjson(manifest["error"][0]["url"])
    assert issue_codes(outcomes) == [("information", "59100"), ("information", "59100")]
    diagnostics = " ".join(outcome["issue"][0]["diagnostics"] for outcome in outcomes)
    assert "_since" in diagnostics
    assert "bogus" in diagnostics


def test_unsupported_types_are_skipped_and_reported_as_59136(epic: EpicTestClient) -> None:
    _, manifest = epic.export("_type=Patient,Spaceship")
    assert [entry["type"] for entry in manifest["output"]] == ["Patient"]
    outcomes = epic.ndjson(manifest["error"][0]["url"])
    assert issue_codes(outcomes) == [("error", "59136")]
    assert "Spaceship" in outcomes[0]["issue"][0]["diagnostics"]


def test_polling_reports_progress_until_the_export_is_ready(start_emulator: EmulatorFactory) -> None:
    clock = ManualClock()
    client = start_emulator("slow-export=100", clock=clock, patients=10)
    client.authorize()
    status_url = client.start_export("_type=Patient")
    first = client.session.get(status_url, timeout=10)
    assert first.status_code == 202
    assert first.content == b""
    assert first.headers["X-Progress"] == "Searched 0 of 10 patients"
    assert "Retry-After" not in first.headers
    clock.advance(50)
    assert client.session.get(status_url, timeout=10).headers["X-Progress"] == "Searched 5 of 10 patients"
    clock.advance(50)
    assert client.wait_for_manifest(status_url)["output"]


def test_delete_answers_202_then_status_and_files_are_gone(epic: EpicTestClient) -> None:
    status_url, manifest = epic.export("_type=Patient")
    file_url = manifest["output"][0]["url"]
    response = epic.session.delete(status_url, timeout=10)
    assert response.status_code == 202
    assert epic.session.get(status_url, timeout=10).status_code == 404
    assert epic.session.get(file_url, timeout=10).status_code == 404
    assert epic.session.delete(status_url, timeout=10).status_code == 404


def test_results_expire_after_14_days(start_emulator: EmulatorFactory) -> None:
    clock = ManualClock()
    client = start_emulator(clock=clock, token_lifetime_seconds=10**8)
    client.authorize()
    status_url, manifest = client.export("_type=Patient")
    clock.advance(13 * 24 * 3600)
    assert client.session.get(status_url, timeout=10).status_code == 200
    clock.advance(2 * 24 * 3600)
    assert client.session.get(status_url, timeout=10).status_code == 404
    assert client.session.get(manifest["output"][0]["url"], timeout=10).status_code == 404


def test_a_later_token_of_the_same_client_can_poll_and_download(epic: EpicTestClient) -> None:
    status_url, _ = epic.export("_type=Patient")
    epic.authorize()  # downloads usually happen with a newer token than the kick-off's
    assert epic.session.get(status_url, timeout=10).status_code == 200


class TestTwentyFourHourWindow:
    def test_second_kickoff_within_24_hours_is_rejected_with_429(self, start_emulator: EmulatorFactory) -> None:
        clock = ManualClock()
        client = start_emulator(clock=clock, token_lifetime_seconds=10**6)
        client.authorize()
        client.export("_type=Patient")
        clock.advance(23 * 3600 + 3599)
        response = client.kickoff("_type=Patient")
        assert response.status_code == 429
        outcome = response.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert TOO_RECENT in json.dumps(outcome)
        clock.advance(1)
        assert client.kickoff("_type=Patient").status_code == 202

    def test_the_window_is_per_group_request_not_per_type_list(self, start_emulator: EmulatorFactory) -> None:
        client = start_emulator(clock=ManualClock())
        client.authorize()
        client.start_export("_type=Patient")
        assert client.kickoff("_type=Observation").status_code == 429

    def test_deleting_an_unfinished_export_frees_the_slot(self, start_emulator: EmulatorFactory) -> None:
        client = start_emulator("slow-export=3600", clock=ManualClock())
        client.authorize()
        status_url = client.start_export("_type=Patient")
        assert client.session.get(status_url, timeout=10).status_code == 202
        assert client.session.delete(status_url, timeout=10).status_code == 202
        assert client.kickoff("_type=Patient").status_code == 202

    def test_deleting_a_finished_export_does_not_free_the_slot(self, start_emulator: EmulatorFactory) -> None:
        client = start_emulator(clock=ManualClock())
        client.authorize()
        status_url, _ = client.export("_type=Patient")
        assert client.session.delete(status_url, timeout=10).status_code == 202
        assert client.kickoff("_type=Patient").status_code == 429

    def test_cooldown_zero_disables_the_window(self, start_emulator: EmulatorFactory) -> None:
        client = start_emulator("cooldown=0")
        client.authorize()
        client.start_export("_type=Patient")
        assert client.kickoff("_type=Patient").status_code == 202

    def test_cooldown_hours_shorten_the_window(self, start_emulator: EmulatorFactory) -> None:
        clock = ManualClock()
        client = start_emulator("cooldown=1", clock=clock, token_lifetime_seconds=10**6)
        client.authorize()
        client.start_export("_type=Patient")
        assert client.kickoff("_type=Patient").status_code == 429
        clock.advance(3600)
        assert client.kickoff("_type=Patient").status_code == 202


def test_binary_serves_document_reference_attachments(epic: EpicTestClient) -> None:
    _, manifest = epic.export("_type=DocumentReference")
    documents = [doc for entry in manifest["output"] for doc in epic.ndjson(entry["url"])]
    assert documents
    url = documents[0]["content"][0]["attachment"]["url"]
    assert url.startswith("Binary/")
    response = epic.session.get(f"{epic.emulator.base_url}/{url}", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].split(";")[0] in {"text/html", "text/rtf", "application/rtf"}
    assert response.content


def test_unknown_binary_is_a_404_operation_outcome(epic: EpicTestClient) -> None:
    response = epic.session.get(f"{epic.emulator.base_url}/Binary/zzzNoSuchBinary", timeout=10)
    assert response.status_code == 404
    assert response.json()["issue"][0]["details"]["coding"][0]["code"] == "59008"


def test_single_patient_group(start_emulator: EmulatorFactory) -> None:
    client = start_emulator(patients=1)
    client.authorize()
    _, manifest = client.export("_type=Patient")
    assert len(client.ndjson(manifest["output"][0]["url"])) == 1


def test_only_unsupported_types_give_an_empty_output_and_an_error_file(epic: EpicTestClient) -> None:
    _, manifest = epic.export("_type=Spaceship")
    assert manifest["output"] == []
    assert issue_codes(epic.ndjson(manifest["error"][0]["url"])) == [("error", "59136")]


def test_a_filter_on_an_unsupported_search_parameter_is_refused_at_kickoff(epic: EpicTestClient) -> None:
    response = epic.kickoff("_type=Observation&_typeFilter=Observation%3Fbogus%3D1")
    assert response.status_code == 400
    assert "bogus" in response.json()["issue"][0]["diagnostics"]
    assert epic.kickoff("_type=Observation").status_code == 202  # the refusal did not take the 24-hour slot


def test_output_format_ndjson_is_accepted_and_anything_else_refused(start_emulator: EmulatorFactory) -> None:
    client = start_emulator("cooldown=0")
    client.authorize()
    for accepted in ("application/fhir%2Bndjson", "application/fhir+ndjson", "application/ndjson", "ndjson"):
        assert client.kickoff(f"_type=Patient&_outputFormat={accepted}").status_code == 202
    refused = client.kickoff("_type=Patient&_outputFormat=text/csv")
    assert refused.status_code == 400
    assert "text/csv" in refused.json()["issue"][0]["diagnostics"]
