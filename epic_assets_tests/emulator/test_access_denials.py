"""Client-level denials (EPIC.md section 2): APIs not granted to the client, clients without a background user."""

from __future__ import annotations

import pytest

from epic_assets.emulator import synthetic
from epic_assets.errors import EpicAssetsError
from epic_assets_tests.emulator.conftest import EmulatorFactory, EpicTestClient

INSUFFICIENT_SCOPE = (
    'Bearer error="insufficient_scope", '
    'error_description="The access token provided is valid, but is not authorized for this service"'
)


def granted(start_emulator: EmulatorFactory, *types: str) -> EpicTestClient:
    client = start_emulator(granted_types=frozenset(types))
    client.authorize()
    return client


def test_kickoff_naming_an_ungranted_type_is_a_bodyless_403_with_insufficient_scope(
    start_emulator: EmulatorFactory,
) -> None:
    client = granted(start_emulator, "Patient")
    response = client.kickoff("_type=Patient,Observation")
    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == INSUFFICIENT_SCOPE
    assert response.content == b""


def test_a_refused_kickoff_does_not_take_the_24_hour_slot(start_emulator: EmulatorFactory) -> None:
    client = granted(start_emulator, "Patient")
    assert client.kickoff("_type=observation").status_code == 403  # any letter case names the same API
    assert client.kickoff("_type=Patient").status_code == 202


def test_kickoff_of_granted_types_exports_them(start_emulator: EmulatorFactory) -> None:
    client = granted(start_emulator, "Patient", "Observation")
    _, manifest = client.export("_type=Patient,Observation")
    assert {entry["type"] for entry in manifest["output"]} == {"Patient", "Observation"}


def test_kickoff_without_type_exports_only_the_granted_types(start_emulator: EmulatorFactory) -> None:
    client = granted(start_emulator, "Patient", "Condition")
    _, manifest = client.export("")
    assert {entry["type"] for entry in manifest["output"]} == {"Patient", "Condition"}


def test_token_scope_lists_only_granted_apis(start_emulator: EmulatorFactory) -> None:
    client = start_emulator(granted_types=frozenset({"Patient", "DocumentReference"}))
    scope = client.request_token().json()["scope"].split()
    assert scope == ["system/Group.read", "system/Binary.read", "system/Patient.read", "system/DocumentReference.read"]


def binary_id(client: EpicTestClient) -> str:
    config = client.emulator.app.config
    document = next(synthetic.iter_resources("DocumentReference", config.patients, config.seed))
    return document["content"][0]["attachment"]["url"].removeprefix("Binary/")


def test_binary_reads_need_document_reference(start_emulator: EmulatorFactory) -> None:
    without = granted(start_emulator, "Patient")
    response = without.session.get(f"{without.emulator.base_url}/Binary/{binary_id(without)}", timeout=10)
    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == INSUFFICIENT_SCOPE
    assert response.content == b""

    with_documents = granted(start_emulator, "DocumentReference")
    url = f"{with_documents.emulator.base_url}/Binary/{binary_id(with_documents)}"
    assert with_documents.session.get(url, timeout=10).status_code == 200


def test_granting_an_unknown_type_fails_at_start(start_emulator: EmulatorFactory) -> None:
    with pytest.raises(EpicAssetsError, match="cannot grant Obsrvation"):
        start_emulator(granted_types=frozenset({"Patient", "Obsrvation"}))


def test_unmapped_client_fault_refuses_valid_assertions_with_unauthorized_client(
    start_emulator: EmulatorFactory,
) -> None:
    client = start_emulator("unmapped-client")
    response = client.request_token()
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"error": "unauthorized_client", "error_description": None}


def test_unmapped_client_fault_still_rejects_bad_assertions_as_invalid_client(
    start_emulator: EmulatorFactory,
) -> None:
    client = start_emulator("unmapped-client")
    response = client.request_token(client.assertion(token_url="https://elsewhere.example/oauth2/token"))
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_client", "error_description": None}
