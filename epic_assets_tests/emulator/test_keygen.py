"""``epic-assets keygen``: a private key only we can read, a certificate and a JWKS Epic can use."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
from cryptography import x509

from epic_assets.errors import EpicAssetsError
from epic_assets.security.assertion import sign_client_assertion
from epic_assets.security.keys import generate_key_files, jwk_thumbprint, load_private_key


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "epic_assets", *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(("alg", "kty"), [("RS384", "RSA"), ("ES384", "EC")])
def test_keygen_writes_key_certificate_and_jwks(tmp_path: Path, alg: str, kty: str) -> None:
    result = run_cli("keygen", "--out", str(tmp_path), "--alg", alg)
    assert result.returncode == 0, result.stderr
    private_key = tmp_path / "private_key.pem"
    assert stat.S_IMODE(private_key.stat().st_mode) == 0o600
    assert "PRIVATE KEY" not in result.stdout + result.stderr  # key material is never printed

    jwks = json.loads((tmp_path / "jwks.json").read_text())
    [jwk] = jwks["keys"]
    assert jwk["kty"] == kty
    assert jwk["alg"] == alg
    assert jwk["use"] == "sig"
    assert "d" not in jwk and "key_ops" not in jwk  # public only
    assert jwk["kid"] == jwk_thumbprint(jwk)
    assert jwk["kid"] in result.stdout

    certificate = x509.load_pem_x509_certificate((tmp_path / "public_cert.pem").read_bytes())
    assert certificate.subject == certificate.issuer  # self-signed
    key = load_private_key(private_key)
    assert certificate.public_key().public_numbers() == key.public_key().public_numbers()

    # The JWKS verifies what the private key signs.
    token = sign_client_assertion(key, client_id="c", token_url="https://x/oauth2/token", kid=jwk["kid"])
    claims = jwt.decode(token, jwt.PyJWK(jwk), algorithms=[alg], audience="https://x/oauth2/token")
    assert claims["iss"] == "c"


def test_rsa_thumbprint_matches_rfc_7638_example() -> None:
    # The example key and thumbprint from RFC 7638 section 3.1.
    jwk = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV"
        "4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgd"
        "AZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-k"
        "EgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert jwk_thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_custom_kid_is_used(tmp_path: Path) -> None:
    files = generate_key_files(tmp_path, kid="prod-2026-11")
    assert files.kid == "prod-2026-11"
    assert json.loads(files.jwks.read_text())["keys"][0]["kid"] == "prod-2026-11"


def test_existing_keys_are_not_overwritten_without_force(tmp_path: Path) -> None:
    assert run_cli("keygen", "--out", str(tmp_path)).returncode == 0
    before = (tmp_path / "private_key.pem").read_bytes()
    result = run_cli("keygen", "--out", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1  # one line, no traceback
    assert "--force" in result.stderr
    assert (tmp_path / "private_key.pem").read_bytes() == before


def test_force_replaces_the_key_pair(tmp_path: Path) -> None:
    first = generate_key_files(tmp_path)
    second = generate_key_files(tmp_path, force=True)
    assert second.kid != first.kid
    assert stat.S_IMODE(second.private_key.stat().st_mode) == 0o600
    assert not list(tmp_path.glob(".*tmp*"))  # no temp files left behind


def test_unsupported_algorithm_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EpicAssetsError, match="unsupported key algorithm"):
        generate_key_files(tmp_path, alg="HS256")


def test_a_created_key_directory_is_private(tmp_path: Path) -> None:
    generate_key_files(tmp_path / "new-keys")
    assert stat.S_IMODE((tmp_path / "new-keys").stat().st_mode) == 0o700
