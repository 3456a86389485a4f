"""The emulator's own housekeeping: spool files on disk, concurrent downloads, shutdown."""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from epic_assets.emulator import EmulatorConfig, run_emulator, synthetic
from epic_assets.errors import EpicAssetsError
from epic_assets_tests.emulator.conftest import CLIENT_ID, EmulatorFactory, EpicTestClient


def test_export_files_live_in_the_spool_until_delete(epic: EpicTestClient) -> None:
    status_url, manifest = epic.export("_type=Patient,Observation")
    job_dir = epic.emulator.spool_dir / status_url.rsplit("/", 1)[1]
    on_disk = sorted(path for path in job_dir.rglob("*") if path.is_file())
    assert len(on_disk) == len(manifest["output"])
    served = sorted(
        hashlib.sha256(epic.session.get(e["url"], timeout=10).content).hexdigest() for e in manifest["output"]
    )
    assert served == sorted(hashlib.sha256(path.read_bytes()).hexdigest() for path in on_disk)
    assert epic.session.delete(status_url, timeout=10).status_code == 202
    assert not job_dir.exists()


def test_concurrent_downloads_are_served_in_parallel_and_intact(start_emulator: EmulatorFactory) -> None:
    client = start_emulator(patients=6, max_per_file=200)
    client.authorize()
    _, manifest = client.export("")
    urls = [entry["url"] for entry in manifest["output"]]
    assert len(urls) > 4
    headers = dict(client.session.headers)

    def fetch(url: str) -> bytes:
        response = requests.get(url, headers=headers, timeout=30)
        assert response.status_code == 200
        return response.content

    with ThreadPoolExecutor(max_workers=6) as pool:
        parallel = list(pool.map(fetch, urls))
    assert parallel == [client.session.get(url, timeout=10).content for url in urls]


def test_head_does_not_start_an_export(epic: EpicTestClient) -> None:
    url = f"{epic.emulator.base_url}/Group/{epic.emulator.group_id}/$export?_type=Patient"
    assert epic.session.head(url, headers={"Prefer": "respond-async"}, timeout=10).status_code == 404
    assert epic.kickoff("_type=Patient").status_code == 202  # the 24-hour slot was still free


def test_stop_removes_the_temporary_spool_and_closes_the_port(rsa_keys) -> None:
    emulator = run_emulator(EmulatorConfig(jwks=str(rsa_keys.jwks), client_id=CLIENT_ID))
    spool, metadata = emulator.spool_dir, f"{emulator.base_url}/metadata"
    assert requests.get(metadata, timeout=10).status_code == 200
    emulator.stop()
    emulator.stop()  # idempotent
    assert not spool.exists()
    try:
        requests.get(metadata, timeout=2)
    except requests.ConnectionError:
        pass
    else:
        raise AssertionError("the emulator still answers after stop()")


def test_a_given_spool_dir_is_kept_after_stop(rsa_keys, tmp_path) -> None:
    config = EmulatorConfig(jwks=str(rsa_keys.jwks), client_id=CLIENT_ID, spool_dir=tmp_path / "spool")
    with run_emulator(config) as emulator:
        assert emulator.spool_dir == tmp_path / "spool"
    assert (tmp_path / "spool").is_dir()


def test_unreachable_jwks_url_or_missing_kid_is_invalid_client(
    start_emulator: EmulatorFactory, ec_keys, jwks_url_server
) -> None:
    client = start_emulator(keys=ec_keys, jwks="http://127.0.0.1:9/nothing-listens-here.json")
    response = client.request_token()
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_client", "error_description": None}
    served = start_emulator(keys=ec_keys, jwks=jwks_url_server(ec_keys.jwks))
    assert served.request_token(served.assertion(kid="rotated-away")).status_code == 400


def test_a_jwks_file_with_private_key_material_is_refused(start_emulator: EmulatorFactory, tmp_path) -> None:
    leaked = tmp_path / "jwks.json"
    leaked.write_text('{"keys": [{"kty": "EC", "crv": "P-384", "x": "a", "y": "b", "d": "secret", "kid": "k"}]}')
    with pytest.raises(EpicAssetsError, match="private key material") as refused:
        start_emulator(jwks=str(leaked))
    assert "secret" not in str(refused.value)


def test_a_file_that_is_neither_jwks_nor_pem_is_refused(start_emulator: EmulatorFactory, tmp_path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("hello")
    with pytest.raises(EpicAssetsError, match="neither a JWK Set nor a PEM"):
        start_emulator(jwks=str(junk))


def test_a_failing_export_is_reported_on_the_status_url(epic: EpicTestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    # A full disk cannot be arranged here, so the generator is made to fail the way it would.
    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(synthetic, "write_export", disk_full)
    status_url = epic.start_export("_type=Patient")
    deadline = time.monotonic() + 30
    while (response := epic.session.get(status_url, timeout=10)).status_code == 202 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert response.status_code == 500
    assert "No space left on device" in response.json()["issue"][0]["diagnostics"]
