"""Fixtures for emulator tests: key pairs, a JWKS URL server, emulators started per test, a tiny client."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from epic_assets.emulator import EmulatorConfig, ManualClock, RunningEmulator, parse_faults, run_emulator
from epic_assets.security.assertion import sign_client_assertion
from epic_assets.security.keys import KeyFiles, PrivateKey, generate_key_files, load_private_key

CLIENT_ID = "test-client-0f1e"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture(scope="session")
def rsa_keys(tmp_path_factory: pytest.TempPathFactory) -> KeyFiles:
    return generate_key_files(tmp_path_factory.mktemp("rsa-key"), alg="RS384")


@pytest.fixture(scope="session")
def ec_keys(tmp_path_factory: pytest.TempPathFactory) -> KeyFiles:
    return generate_key_files(tmp_path_factory.mktemp("ec-key"), alg="ES384")


@pytest.fixture(scope="session")
def other_rsa_keys(tmp_path_factory: pytest.TempPathFactory) -> KeyFiles:
    """A second key pair that is never registered: assertions signed with it must fail."""
    return generate_key_files(tmp_path_factory.mktemp("other-key"), alg="RS384")


@pytest.fixture
def jwks_url_server() -> Iterator[Callable[[Path], str]]:
    """Serve a JWKS file over loopback HTTP, as a client's hosted JKU; returns a function file -> URL."""
    servers: list[ThreadingHTTPServer] = []

    def serve(jwks_file: Path) -> str:
        body = jwks_file.read_bytes()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@dataclass
class EpicTestClient:
    """Just enough of a bulk client to drive the emulator from tests."""

    emulator: RunningEmulator
    key: PrivateKey
    kid: str
    clock: ManualClock | None = None
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        # As every Epic client must: without it Epic (and the emulator) answers FHIR routes in XML.
        self.session.headers["Accept"] = "application/fhir+json"

    def now(self) -> float:
        return self.clock.now() if self.clock else time.time()

    def assertion(self, **overrides: Any) -> str:
        arguments: dict[str, Any] = {
            "client_id": CLIENT_ID,
            "token_url": self.emulator.token_url,
            "kid": self.kid,
            "now": self.now(),
        }
        arguments.update(overrides)
        return sign_client_assertion(self.key, **arguments)

    def request_token(self, assertion: str | None = None, **form: str) -> requests.Response:
        data = {
            "grant_type": "client_credentials",
            "client_assertion_type": JWT_BEARER,
            "client_assertion": assertion or self.assertion(),
            **form,
        }
        return self.session.post(self.emulator.token_url, data=data, timeout=10)

    def authorize(self) -> str:
        response = self.request_token()
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        self.session.headers["Authorization"] = f"Bearer {token}"
        return token

    def kickoff(self, query: str = "_type=Patient,Observation", group_id: str | None = None,
                prefer: str | None = "respond-async") -> requests.Response:
        headers = {"Accept": "application/fhir+json"}
        if prefer:
            headers["Prefer"] = prefer
        url = f"{self.emulator.base_url}/Group/{group_id or self.emulator.group_id}/$export"
        return self.session.get(f"{url}?{query}" if query else url, headers=headers, timeout=10)

    def start_export(self, query: str = "_type=Patient,Observation") -> str:
        response = self.kickoff(query)
        assert response.status_code == 202, response.text
        return response.headers["Content-Location"]

    def wait_for_manifest(self, status_url: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = self.session.get(status_url, timeout=10)
            if response.status_code == 200:
                return response.json()
            assert response.status_code == 202, response.text
            time.sleep(0.02)
        raise AssertionError(f"export at {status_url} did not finish within {timeout}s")

    def export(self, query: str = "_type=Patient,Observation") -> tuple[str, dict[str, Any]]:
        status_url = self.start_export(query)
        return status_url, self.wait_for_manifest(status_url)

    def ndjson(self, url: str) -> list[dict[str, Any]]:
        response = self.session.get(url, timeout=10)
        assert response.status_code == 200, response.text
        return [json.loads(line) for line in response.text.splitlines() if line.strip()]


EmulatorFactory = Callable[..., EpicTestClient]


@pytest.fixture
def start_emulator(rsa_keys: KeyFiles) -> Iterator[EmulatorFactory]:
    """Start an emulator (faults as CLI strings, any EmulatorConfig field as keyword) and a client for it."""
    running: list[RunningEmulator] = []

    def start(*faults: str, keys: KeyFiles | None = None, jwks: str | None = None, **overrides: Any) -> EpicTestClient:
        keys = keys or rsa_keys
        config_args: dict[str, Any] = {"jwks": jwks or str(keys.jwks), "client_id": CLIENT_ID, "patients": 4}
        config_args.update(overrides)
        config = EmulatorConfig(faults=parse_faults(faults), **config_args)
        emulator = run_emulator(config)
        running.append(emulator)
        clock = config.clock if isinstance(config.clock, ManualClock) else None
        return EpicTestClient(emulator, load_private_key(keys.private_key), keys.kid, clock)

    yield start
    for emulator in running:
        emulator.stop()


@pytest.fixture
def epic(start_emulator: EmulatorFactory) -> EpicTestClient:
    """A default emulator and an authorised client."""
    client = start_emulator()
    client.authorize()
    return client
