"""The token endpoint verifies client assertions exactly as Epic does (EPIC.md section 2)."""

from __future__ import annotations

import json

import jwt
import pytest
import requests

from epic_assets.emulator import ManualClock
from epic_assets.errors import EpicAssetsError
from epic_assets.security.assertion import sign_client_assertion
from epic_assets.security.keys import PrivateKey, load_private_key
from epic_assets_tests.emulator.conftest import CLIENT_ID, EmulatorFactory, EpicTestClient

INVALID_CLIENT = {"error": "invalid_client", "error_description": None}


def assert_invalid_client(response: requests.Response) -> None:
    assert response.status_code == 400
    assert response.json() == INVALID_CLIENT


@pytest.fixture
def client(start_emulator: EmulatorFactory) -> EpicTestClient:
    return start_emulator(clock=ManualClock())


def test_valid_assertion_gets_an_opaque_bearer_token_without_refresh(client: EpicTestClient) -> None:
    response = client.request_token()
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["scope"]
    assert body["access_token"].count(".") == 0  # opaque, not a JWT
    assert client.request_token().json()["access_token"] != body["access_token"]


def test_requested_v1_scope_is_tolerated_and_echoed(client: EpicTestClient) -> None:
    response = client.request_token(scope="system/Patient.read system/Observation.read")
    assert response.status_code == 200
    assert response.json()["scope"] == "system/Patient.read system/Observation.read"


def test_invalid_client_body_matches_epic_sample(client: EpicTestClient, epic_samples) -> None:
    response = client.request_token(client.assertion(token_url="https://elsewhere.example/oauth2/token"))
    assert response.json() == json.loads((epic_samples / "token-error.invalid_client.json").read_text())


@pytest.mark.parametrize(
    ("case", "overrides"),
    [
        ("aud is another URL", {"token_url": "http://127.0.0.1:1/oauth2/token"}),
        ("aud has a trailing slash", {"token_url": "TOKEN/"}),
        ("exp more than 5 minutes ahead", {"lifetime_seconds": 301 + 5}),
        ("expired", {"now_offset": -400}),
        ("iat and nbf in the future", {"now_offset": 60, "lifetime_seconds": 120}),
        ("unknown kid", {"kid": "not-a-registered-kid"}),
        ("jti longer than 151 characters", {"jti": "x" * 152}),
        ("iss is another client", {"client_id": "someone-else"}),
        ("jku sent although the key was registered as a file", {"jku": "http://127.0.0.1:1/jwks.json"}),
    ],
)
def test_assertion_rule_violations_are_rejected_with_the_same_body(
    client: EpicTestClient, case: str, overrides: dict
) -> None:
    arguments = dict(overrides)
    if arguments.get("token_url") == "TOKEN/":
        arguments["token_url"] = client.emulator.token_url + "/"
    if "now_offset" in arguments:
        arguments["now"] = client.now() + arguments.pop("now_offset")
    assert_invalid_client(client.request_token(client.assertion(**arguments)))


def test_exp_exactly_five_minutes_ahead_is_accepted(client: EpicTestClient) -> None:
    # sign_client_assertion back-dates iat by 5 s; exp = now + 300 is the edge Epic still accepts.
    assertion = client.assertion(lifetime_seconds=300)
    assert client.request_token(assertion).status_code == 200


def test_jti_of_151_characters_is_accepted(client: EpicTestClient) -> None:
    assert client.request_token(client.assertion(jti="j" * 151)).status_code == 200


def test_reused_jti_is_rejected_until_the_first_assertion_expires(client: EpicTestClient) -> None:
    assert client.request_token(client.assertion(jti="once")).status_code == 200
    assert_invalid_client(client.request_token(client.assertion(jti="once")))
    assert client.clock is not None
    client.clock.advance(300)  # the first assertion (exp = +240 s) is now expired
    assert client.request_token(client.assertion(jti="once")).status_code == 200


def test_the_same_assertion_cannot_be_replayed(client: EpicTestClient) -> None:
    assertion = client.assertion()
    assert client.request_token(assertion).status_code == 200
    assert_invalid_client(client.request_token(assertion))


def test_signature_from_an_unregistered_key_is_rejected(client: EpicTestClient, other_rsa_keys) -> None:
    stranger = load_private_key(other_rsa_keys.private_key)
    assert_invalid_client(client.request_token(_signed_by(client, stranger)))


def _signed_by(client: EpicTestClient, key: PrivateKey) -> str:
    return sign_client_assertion(
        key, client_id=CLIENT_ID, token_url=client.emulator.token_url, kid=client.kid, now=client.now()
    )


def test_sub_different_from_iss_is_rejected(client: EpicTestClient) -> None:
    claims = jwt.decode(client.assertion(), options={"verify_signature": False})
    claims["sub"] = "another-subject"
    forged = jwt.encode(claims, client.key, algorithm="RS384", headers={"kid": client.kid})
    assert_invalid_client(client.request_token(forged))


def test_missing_exp_or_jti_is_rejected(client: EpicTestClient) -> None:
    for missing in ("exp", "jti"):
        claims = jwt.decode(client.assertion(), options={"verify_signature": False})
        del claims[missing]
        unsigned_claim = jwt.encode(claims, client.key, algorithm="RS384", headers={"kid": client.kid})
        assert_invalid_client(client.request_token(unsigned_claim))


@pytest.mark.parametrize("alg", ["RS256", "RS512"])
def test_other_rsa_algorithms_are_accepted_when_the_key_is_not_pinned(
    start_emulator: EmulatorFactory, rsa_keys, tmp_path, alg: str
) -> None:
    jwks = json.loads(rsa_keys.jwks.read_text())
    del jwks["keys"][0]["alg"]  # a JWKS that does not pin the algorithm
    unpinned = tmp_path / "jwks.json"
    unpinned.write_text(json.dumps(jwks))
    client = start_emulator(jwks=str(unpinned))
    assert client.request_token(client.assertion(alg=alg)).status_code == 200


def test_algorithm_other_than_the_pinned_one_is_rejected(client: EpicTestClient) -> None:
    assert_invalid_client(client.request_token(client.assertion(alg="RS256")))


def test_hmac_and_none_algorithms_are_rejected(client: EpicTestClient) -> None:
    claims = jwt.decode(client.assertion(), options={"verify_signature": False})
    hs = jwt.encode(claims, "a-shared-secret-of-sufficient-length!!", algorithm="HS256", headers={"kid": client.kid})
    assert_invalid_client(client.request_token(hs))
    none = jwt.encode(claims, None, algorithm="none", headers={"kid": client.kid})
    assert_invalid_client(client.request_token(none))


def test_es384_is_rejected_for_a_key_registered_as_a_file(start_emulator: EmulatorFactory, ec_keys) -> None:
    client = start_emulator(keys=ec_keys)
    assert_invalid_client(client.request_token())


def test_es384_is_accepted_for_a_key_registered_as_a_jwks_url(
    start_emulator: EmulatorFactory, ec_keys, jwks_url_server
) -> None:
    url = jwks_url_server(ec_keys.jwks)
    client = start_emulator(keys=ec_keys, jwks=url)
    assert client.request_token().status_code == 200
    assert client.request_token(client.assertion(jku=url)).status_code == 200


def test_jku_must_equal_the_registered_jwks_url(start_emulator: EmulatorFactory, ec_keys, jwks_url_server) -> None:
    url = jwks_url_server(ec_keys.jwks)
    client = start_emulator(keys=ec_keys, jwks=url)
    assert_invalid_client(client.request_token(client.assertion(jku=url + "?rotated=1")))


def test_jwks_url_must_be_loopback(start_emulator: EmulatorFactory) -> None:
    with pytest.raises(EpicAssetsError, match="loopback"):
        start_emulator(jwks="https://keys.example.org/jwks.json")


def test_static_certificate_registration_accepts_its_thumbprint_kid(start_emulator: EmulatorFactory, rsa_keys) -> None:
    client = start_emulator(jwks=str(rsa_keys.public_cert))
    assert client.request_token().status_code == 200


@pytest.mark.parametrize(
    ("how", "send"),
    [
        ("GET", lambda c: c.session.get(c.emulator.token_url, timeout=10)),
        ("JSON body", lambda c: c.session.post(c.emulator.token_url, json={"grant_type": "client_credentials"})),
        ("wrong grant_type", lambda c: c.request_token(grant_type="authorization_code")),
        ("wrong assertion type", lambda c: c.request_token(client_assertion_type="urn:other")),
    ],
)
def test_malformed_token_requests_are_invalid_request(client: EpicTestClient, how: str, send) -> None:
    response = send(client)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_tokens_expire_after_their_lifetime(start_emulator: EmulatorFactory) -> None:
    clock = ManualClock()
    client = start_emulator(clock=clock, token_lifetime_seconds=600)
    token = client.request_token().json()
    assert token["expires_in"] == 600
    client.session.headers["Authorization"] = f"Bearer {token['access_token']}"
    assert client.kickoff().status_code == 202
    clock.advance(601)
    assert client.session.get(f"{client.emulator.base_url}/Binary/anything", timeout=10).status_code == 401
