"""The ``emulator`` and ``selfcheck`` commands as users run them, in real subprocesses."""

from __future__ import annotations

import logging
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from epic_assets.emulator import synthetic
from epic_assets.emulator.selfcheck import run_selfcheck
from epic_assets.security.assertion import sign_client_assertion
from epic_assets.security.keys import KeyFiles, load_private_key
from epic_assets_tests.emulator.conftest import CLIENT_ID, JWT_BEARER, EpicTestClient


def read_until(process: subprocess.Popen[str], marker: str, timeout: float = 30) -> str:
    """Collect stdout until ``marker`` appears (or fail with what was printed).

    A reader thread does the blocking reads, so a silent or crashed child cannot hang the test.
    """
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    seen = ""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {marker!r} from the emulator; printed so far:\n{seen}")
        try:
            seen += lines.get(timeout=min(remaining, 0.5))
        except queue.Empty:
            if process.poll() is not None:
                raise AssertionError(f"emulator exited with {process.returncode}; printed:\n{seen}") from None
    return seen


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_emulator_command_prints_its_urls_serves_and_stops_on_a_signal(rsa_keys: KeyFiles, stop_signal: int) -> None:
    command = [
        sys.executable, "-m", "epic_assets", "emulator",
        "--port", "0", "--jwks", str(rsa_keys.jwks), "--client-id", CLIENT_ID, "--patients", "3",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    try:
        printed = read_until(process, "ready")
        base_url = re.search(r"FHIR base URL : (\S+)", printed).group(1)
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/FHIR/R4", base_url)
        assert "Group id      : e3iabhmS8rsueyz7vaimuiaSmfGvi.QwjVXJANlPOgR83" in printed
        token_url = requests.get(f"{base_url}/.well-known/smart-configuration", timeout=10).json()["token_endpoint"]
        assertion = sign_client_assertion(
            load_private_key(rsa_keys.private_key), client_id=CLIENT_ID, token_url=token_url, kid=rsa_keys.kid
        )
        form = {"grant_type": "client_credentials", "client_assertion_type": JWT_BEARER, "client_assertion": assertion}
        token = requests.post(token_url, data=form, timeout=10).json()["access_token"]
        requests.get(f"{base_url}/Binary/x", headers={"Authorization": f"Bearer {token}"}, timeout=10)

        process.send_signal(stop_signal)
        assert process.wait(timeout=15) == 0
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{base_url}/metadata", timeout=2)
        access_log = process.stderr.read()
        assert "POST /oauth2/token" in access_log
        assert "GET /api/FHIR/R4/Binary/x" in access_log
        assert token not in access_log
        assert assertion.split(".")[1] not in access_log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_emulator_command_rejects_unknown_faults_in_one_line(rsa_keys: KeyFiles) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "epic_assets", "emulator", "--jwks", str(rsa_keys.jwks), "--client-id", "c",
         "--fault", "meteor-strike"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "unknown fault 'meteor-strike'" in result.stderr


def test_emulator_help_documents_grants_and_every_fault_with_its_value() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "epic_assets", "emulator", "--help"],
        capture_output=True, text=True, timeout=60, check=True, env={**os.environ, "COLUMNS": "400"},
    )  # fmt: skip
    assert "--grant TYPE" in result.stdout
    for usage in ("kickoff-503=N", "retry-after=SECONDS", "unmapped-client", "patient-only-fails"):
        assert usage in result.stdout


def test_emulator_command_rejects_granting_an_unknown_type_in_one_line(rsa_keys: KeyFiles) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "epic_assets", "emulator", "--jwks", str(rsa_keys.jwks), "--client-id", "c",
         "--grant", "Patient", "--grant", "Obsrvation"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "cannot grant Obsrvation" in result.stderr


def test_emulator_command_rejects_a_missing_jwks_file(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "epic_assets", "emulator", "--jwks", str(tmp_path / "nope.json"), "--client-id", "c"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "no such file" in result.stderr


def test_selfcheck_walks_the_whole_flow_and_exits_zero() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "epic_assets", "selfcheck", "--patients", "5", "--max-per-file", "50"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    for step in ("discovery", "token", "kick-off", "poll", "download", "integrity", "binary", "delete"):
        assert re.search(rf"ok\s+{step}\b", result.stdout), step
    assert re.search(r"Patient\s+\d+\s+5\b", result.stdout)
    assert "selfcheck passed" in result.stdout


def test_access_log_never_contains_tokens_or_assertions(epic: EpicTestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="epic_assets.emulator")
    assertion = epic.assertion()
    token = epic.request_token(assertion).json()["access_token"]
    epic.session.headers["Authorization"] = f"Bearer {token}"
    epic.kickoff("_type=Patient")
    # A careless client putting secrets in the query string gets them masked too.
    epic.session.get(f"{epic.emulator.base_url}/metadata?access_token={token}", timeout=10)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "POST /oauth2/token" in logged
    assert "$export" in logged
    assert token not in logged
    assert assertion not in logged
    assert assertion.split(".")[1] not in logged


def test_selfcheck_reports_a_broken_integrity_check_as_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    # Make the Group claim a patient the export does not contain: the walk must notice and fail.
    real_ids = synthetic.group_patient_ids
    monkeypatch.setattr(synthetic, "group_patient_ids", lambda n, seed: [*real_ids(n, seed), "eMissingPatient3"])
    printed: list[str] = []
    report = run_selfcheck(patients=2, emit=printed.append)
    assert not report.ok
    assert printed[-1] == "selfcheck FAILED"
    assert any("FAIL" in line and "exported 2 patients, the Group has 3" in line for line in printed)
