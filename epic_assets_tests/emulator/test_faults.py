"""Injectable faults: each one does exactly what its name says, for exactly the requests it names."""

from __future__ import annotations

import email.utils

import pytest
import requests

from epic_assets.emulator import FAULT_NAMES, FaultPlan, ManualClock, parse_faults
from epic_assets.errors import EpicAssetsError
from epic_assets_tests.emulator.conftest import EmulatorFactory, EpicTestClient
from epic_assets_tests.emulator.test_exports import issue_codes


def authorized(start_emulator: EmulatorFactory, *faults: str, **config) -> EpicTestClient:
    client = start_emulator(*faults, **config)
    client.authorize()
    return client


def test_kickoff_503_fails_the_first_n_kickoffs_without_taking_the_slot(start_emulator: EmulatorFactory) -> None:
    client = authorized(start_emulator, "kickoff-503=2", "retry-after=3")
    for _ in range(2):
        response = client.kickoff("_type=Patient")
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "3"
    assert client.kickoff("_type=Patient").status_code == 202


def test_status_429_then_status_500_fail_the_first_polls(start_emulator: EmulatorFactory) -> None:
    client = authorized(start_emulator, "status-429=2", "status-500=1")
    status_url = client.start_export("_type=Patient")
    codes = [client.session.get(status_url, timeout=10).status_code for _ in range(3)]
    assert codes == [429, 429, 500]
    assert client.wait_for_manifest(status_url)["output"]


def test_retry_after_is_added_to_202s(start_emulator: EmulatorFactory) -> None:
    client = authorized(start_emulator, "retry-after=7", "slow-export=60", clock=ManualClock())
    kickoff = client.kickoff("_type=Patient")
    assert kickoff.status_code == 202
    assert kickoff.headers["Retry-After"] == "7"
    poll = client.session.get(kickoff.headers["Content-Location"], timeout=10)
    assert poll.status_code == 202
    assert poll.headers["Retry-After"] == "7"


def test_retry_after_date_sends_the_http_date_form(start_emulator: EmulatorFactory) -> None:
    clock = ManualClock(start=1_800_000_000)
    client = authorized(start_emulator, "retry-after-date=90", "slow-export=600", clock=clock)
    poll = client.session.get(client.start_export("_type=Patient"), timeout=10)
    assert poll.status_code == 202
    assert email.utils.parsedate_to_datetime(poll.headers["Retry-After"]).timestamp() == 1_800_000_090


def test_slow_export_keeps_answering_202_until_the_time_has_passed(start_emulator: EmulatorFactory) -> None:
    clock = ManualClock()
    client = authorized(start_emulator, "slow-export=120", clock=clock)
    status_url = client.start_export("_type=Patient")
    assert client.session.get(status_url, timeout=10).status_code == 202
    clock.advance(119)
    assert client.session.get(status_url, timeout=10).status_code == 202
    clock.advance(1)
    assert client.wait_for_manifest(status_url)["output"]


def test_token_expiry_kills_tokens_mid_export_while_expires_in_still_says_3600(
    start_emulator: EmulatorFactory,
) -> None:
    clock = ManualClock()
    client = start_emulator("token-expiry=30", "slow-export=600", clock=clock)
    token = client.request_token().json()
    assert token["expires_in"] == 3600
    client.session.headers["Authorization"] = f"Bearer {token['access_token']}"
    status_url = client.start_export("_type=Patient")
    clock.advance(31)
    assert client.session.get(status_url, timeout=10).status_code == 401
    client.authorize()  # a fresh token continues the same export
    assert client.session.get(status_url, timeout=10).status_code == 202


def test_file_500_fails_the_first_downloads(start_emulator: EmulatorFactory) -> None:
    client = authorized(start_emulator, "file-500=1")
    _, manifest = client.export("_type=Patient")
    url = manifest["output"][0]["url"]
    assert client.session.get(url, timeout=10).status_code == 500
    assert client.session.get(url, timeout=10).status_code == 200


def test_file_drop_closes_the_connection_halfway_then_serves_the_whole_file(start_emulator: EmulatorFactory) -> None:
    client = authorized(start_emulator, "file-drop=1", patients=40)
    _, manifest = client.export("_type=Patient")
    url = manifest["output"][0]["url"]
    received = bytearray()
    response = client.session.get(url, stream=True, timeout=10)
    assert response.status_code == 200
    declared = int(response.headers["Content-Length"])
    with pytest.raises(requests.exceptions.RequestException):
        for chunk in response.iter_content(64):
            received.extend(chunk)
    response.close()
    assert 0 < len(received) < declared
    complete = client.session.get(url, timeout=10)
    assert len(complete.content) == declared
    assert complete.content.startswith(bytes(received))


def test_error_file_adds_one_warning_and_one_error(start_emulator: EmulatorFactory) -> None:
    client = authorized(start_emulator, "error-file")
    _, manifest = client.export("_type=Patient")
    assert manifest["output"]
    assert [entry["type"] for entry in manifest["error"]] == ["OperationOutcome"]
    outcomes = client.ndjson(manifest["error"][0]["url"])
    severities = [issue["severity"] for outcome in outcomes for issue in outcome["issue"]]
    assert sorted(severities) == ["error", "warning"]
    assert ("warning", "59204") in issue_codes(outcomes)


def test_expired_files_are_listed_but_answer_404(start_emulator: EmulatorFactory) -> None:
    client = authorized(start_emulator, "expired-files")
    _, manifest = client.export("_type=Patient")
    assert manifest["output"]
    for entry in manifest["output"]:
        assert client.session.get(entry["url"], timeout=10).status_code == 404


def test_requires_token_bool_makes_the_manifest_use_json_true(start_emulator: EmulatorFactory) -> None:
    client = authorized(start_emulator, "requires-token-bool")
    _, manifest = client.export("_type=Patient")
    assert manifest["requiresAccessToken"] is True


def test_token_400_answers_a_bare_400_then_recovers(start_emulator: EmulatorFactory) -> None:
    client = start_emulator("token-400=1")
    first = client.request_token()
    assert first.status_code == 400
    assert first.content == b""
    assert client.request_token().status_code == 200


def test_fault_names_are_the_documented_set() -> None:
    assert set(FAULT_NAMES) == {
        "kickoff-503", "status-429", "status-500", "retry-after", "slow-export", "token-expiry",
        "file-500", "file-drop", "error-file", "expired-files", "cooldown", "requires-token-bool", "token-400",
        "retry-after-date", "unmapped-client", "patient-only-fails",
    }  # fmt: skip


def test_parse_faults_reads_values_and_flags() -> None:
    plan = parse_faults(["file-drop=2", "error-file", "cooldown=0", "slow-export=1.5", "status-429"])
    assert plan == FaultPlan(file_drop=2, error_file=True, cooldown_hours=0.0, slow_export=1.5, status_429=1)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("explode", "unknown fault 'explode'"),
        ("file-drop=lots", "file-drop=N"),
        ("slow-export", "slow-export=SECONDS"),
        ("error-file=yes", "takes no value"),
        ("status-500=-1", "must not be negative"),
    ],
)
def test_bad_fault_specs_are_clear_errors(spec: str, message: str) -> None:
    with pytest.raises(EpicAssetsError, match=message):
        parse_faults([spec])
