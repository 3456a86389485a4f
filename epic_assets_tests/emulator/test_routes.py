"""Epic's URL layout: discovery, the IIS 404 for everything else, and bearer tokens on every FHIR route."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import pytest
import requests

from epic_assets_tests.emulator.conftest import EmulatorFactory, EpicTestClient

WWW_AUTHENTICATE = 'Bearer error="invalid_token", error_description="The access token provided is not valid"'


def test_smart_configuration_is_public_and_points_at_the_token_endpoint(start_emulator: EmulatorFactory) -> None:
    client = start_emulator()
    response = requests.get(f"{client.emulator.base_url}/.well-known/smart-configuration", timeout=10)
    assert response.status_code == 200
    config = response.json()
    assert config["token_endpoint"] == client.emulator.token_url
    assert "private_key_jwt" in config["token_endpoint_auth_methods_supported"]
    assert "client_credentials" in config["grant_types_supported"]


def test_metadata_is_a_capability_statement_shaped_like_epics(start_emulator: EmulatorFactory, epic_samples) -> None:
    sample = json.loads((epic_samples / "CapabilityStatement.sandbox-R4.excerpt.json").read_text())
    client = start_emulator()
    response = client.session.get(f"{client.emulator.base_url}/metadata", timeout=10)
    assert response.status_code == 200
    statement = response.json()
    assert statement["resourceType"] == sample["resourceType"]
    assert statement["fhirVersion"] == sample["fhirVersion"]
    assert statement["kind"] == sample["kind"]
    assert sample["instantiates"][0] in statement["instantiates"]
    assert statement["implementation"]["url"] == client.emulator.base_url
    rest = statement["rest"][0]
    oauth_uris = {e["url"]: e["valueUri"] for e in rest["security"]["extension"][0]["extension"]}
    assert oauth_uris["token"] == client.emulator.token_url
    group = next(r for r in rest["resource"] if r["type"] == "Group")
    sample_group = next(r for r in sample["rest"][0]["resource"] if r["type"] == "Group")
    assert group["operation"] == sample_group["operation"]
    assert {r["type"] for r in rest["resource"]} >= {"Binary", "Group", "Observation", "Patient"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/FHIR/R4/$export",
        "/api/FHIR/R4/Patient/$export",
        "/api/FHIR/R4/Patient/123",
        "/api/FHIR/R4/Group/abc/$export/extra",
        "/api/FHIR/DSTU2/metadata",
        "/api/FHIR/BulkRequest/not-hex",
        "/api/FHIR/BulkRequest/0123456789abcdef0123456789abcdef",  # lower-case hex is not Epic's form
        "/",
        "/favicon.ico",
    ],
)
def test_everything_else_is_the_iis_html_404(epic: EpicTestClient, epic_samples, path: str) -> None:
    response = epic.session.get(epic.emulator.root_url + path, timeout=10)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.content == (epic_samples / "iis-404.unknown-path-or-system-export.html").read_bytes()


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "OPTIONS"])
def test_other_verbs_on_a_fhir_route_are_the_iis_404_too(epic: EpicTestClient, method: str) -> None:
    url = f"{epic.emulator.base_url}/Group/{epic.emulator.group_id}/$export"
    response = epic.session.request(method, url, timeout=10)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")


def test_percent_encoded_dollar_reaches_the_export_route(epic: EpicTestClient) -> None:
    url = f"{epic.emulator.base_url}/Group/{epic.emulator.group_id}/%24export?_type=Patient"
    response = epic.session.get(url, headers={"Prefer": "respond-async"}, timeout=10)
    assert response.status_code == 202


def _protected_urls(client: EpicTestClient, status_url: str, file_url: str) -> list[tuple[str, str]]:
    return [
        ("GET", f"{client.emulator.base_url}/Group/{client.emulator.group_id}/$export?_type=Patient"),
        ("GET", status_url),
        ("GET", file_url),
        ("DELETE", status_url),
        ("GET", f"{client.emulator.base_url}/Binary/anything"),
    ]


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer "])
def test_every_fhir_route_demands_a_valid_bearer_token(epic: EpicTestClient, authorization: str | None) -> None:
    status_url, manifest = epic.export()
    headers = {"Prefer": "respond-async"}
    if authorization is not None:
        headers["Authorization"] = authorization
    for method, url in _protected_urls(epic, status_url, manifest["output"][0]["url"]):
        response = requests.request(method, url, headers=headers, timeout=10)
        assert response.status_code == 401, (method, url)
        assert response.headers["WWW-Authenticate"] == WWW_AUTHENTICATE
    # Nothing was changed by the rejected calls: the export is still there.
    assert epic.session.get(status_url, timeout=10).status_code == 200


def test_iis_server_header(epic: EpicTestClient) -> None:
    response = epic.session.get(f"{epic.emulator.base_url}/metadata", timeout=10)
    assert response.headers["Server"] == "Microsoft-IIS/10.0"


def test_garbage_content_length_on_the_token_endpoint_is_a_clean_400(epic: EpicTestClient) -> None:
    parts = urlsplit(epic.emulator.token_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as connection:
        connection.sendall(
            b"POST /oauth2/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: lots\r\n\r\n"
        )
        reply = b""
        while chunk := connection.recv(4096):  # the server answers, then closes the untrusted connection
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400")
    assert b"invalid_request" in reply
