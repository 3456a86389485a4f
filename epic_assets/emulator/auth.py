"""Backend Services authentication as Epic does it: client-assertion checks and opaque bearer tokens.

Every rejection of an assertion raises :class:`AssertionRejectedError` with an internal reason (useful in
tests and debug logs); the HTTP layer answers all of them with the same ``invalid_client`` body,
because Epic never says which rule failed.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from epic_assets.emulator.clock import Clock
from epic_assets.errors import EpicAssetsError
from epic_assets.security.keys import jwk_thumbprint, public_jwk

RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512"})
EC_ALGORITHMS = frozenset({"ES256", "ES384"})  # accepted only for keys registered through a JWKS URL
MAX_ASSERTION_LIFETIME_SECONDS = 300
MAX_JTI_LENGTH = 151
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
_JWKS_FETCH_TIMEOUT_SECONDS = 5


class AssertionRejectedError(Exception):
    """The client assertion failed one of Epic's rules; the message is for logs, never the client."""


@dataclass(frozen=True)
class RegisteredKeys:
    """The public keys registered for the client: from a JWKS file/PEM, or fetched from a JWKS URL."""

    source: str
    jwks_url: str | None

    @classmethod
    def from_source(cls, source: str | Path) -> RegisteredKeys:
        """``source`` is a loopback http(s) URL serving a JWKS, or a JWKS/PEM file path."""
        source = str(source)
        if source.startswith(("http://", "https://")):
            host = urlsplit(source).hostname
            if host not in _LOOPBACK_HOSTS:
                raise EpicAssetsError(f"--jwks {source!r}: the emulator fetches JWKS URLs from loopback only")
            return cls(source=source, jwks_url=source)
        path = Path(source).expanduser()
        if not path.is_file():
            raise EpicAssetsError(f"--jwks {source!r}: no such file")
        keys = cls(source=str(path), jwks_url=None)
        keys.current_keys()  # fail at start-up, not on the first token request
        return keys

    def current_keys(self) -> list[dict[str, Any]]:
        """The JWKs as of now; a URL is re-read each time so key rotation behind a JKU just works."""
        if self.jwks_url is not None:
            try:
                response = requests.get(self.jwks_url, timeout=_JWKS_FETCH_TIMEOUT_SECONDS)
                response.raise_for_status()
                return _jwks_keys(response.json(), self.jwks_url)
            except (requests.RequestException, ValueError, EpicAssetsError) as error:
                raise AssertionRejectedError(f"JWKS URL unusable: {type(error).__name__}") from None
        return _keys_from_file(Path(self.source))


def _jwks_keys(document: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise EpicAssetsError(f"{where}: not a JWK Set (expected an object with a 'keys' list)")
    keys = [dict(key) for key in document["keys"] if isinstance(key, Mapping)]
    if any("d" in key for key in keys):
        # A JWKS is published; private members there mean the wrong file was exported or registered.
        raise EpicAssetsError(f"{where}: the JWK Set contains private key material; register the public keys only")
    return keys


def _keys_from_file(path: Path) -> list[dict[str, Any]]:
    """A JWKS JSON file, or a PEM certificate / public key as uploaded to Epic as a static key."""
    data = path.read_bytes()
    if data.lstrip().startswith(b"{"):
        try:
            return _jwks_keys(json.loads(data), str(path))
        except ValueError:
            raise EpicAssetsError(f"{path}: not valid JSON") from None
    try:
        if b"CERTIFICATE" in data:
            public_key = x509.load_pem_x509_certificate(data).public_key()
        else:
            public_key = serialization.load_pem_public_key(data)
        jwk = public_jwk(public_key)  # type: ignore[arg-type]
    except (ValueError, TypeError, EpicAssetsError):
        raise EpicAssetsError(f"{path}: neither a JWK Set nor a PEM certificate/public key") from None
    # A static key has no kid on Epic's side; we let the RFC 7638 thumbprint (keygen's default kid) name it.
    jwk["kid"] = jwk_thumbprint(jwk)
    return [jwk]


class ReplayGuard:
    """Remembers each ``jti`` until its assertion expires, so a replay inside that window is refused."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def claim(self, jti: str, expires_at: float, now: float) -> bool:
        with self._lock:
            self._seen = {key: exp for key, exp in self._seen.items() if exp > now}
            if jti in self._seen:
                return False
            self._seen[jti] = expires_at
            return True


class AssertionVerifier:
    """Applies EPIC.md section 2 to one ``client_assertion``; returns the client id on success."""

    def __init__(self, keys: RegisteredKeys, client_id: str, token_url: str, clock: Clock) -> None:
        self.keys = keys
        self.client_id = client_id
        self.token_url = token_url
        self.clock = clock
        self.replays = ReplayGuard()

    def verify(self, assertion: str) -> str:
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            raise AssertionRejectedError("not a compact JWS") from None
        alg = header.get("alg")
        allowed = RSA_ALGORITHMS | (EC_ALGORITHMS if self.keys.jwks_url else frozenset())
        if alg not in allowed:
            raise AssertionRejectedError(f"algorithm {alg!r} not accepted for this registration")
        jku = header.get("jku")
        if jku is not None and jku != self.keys.jwks_url:
            raise AssertionRejectedError("jku does not match the registered JWKS URL")
        jwk = self._find_key(header.get("kid"), alg)
        try:
            claims = jwt.decode(
                assertion,
                jwt.PyJWK(jwk, algorithm=alg),
                algorithms=[alg],
                # Claim checks are done below against the injected clock, with no leeway.
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False},
            )
        except (jwt.PyJWTError, ValueError, TypeError) as error:
            raise AssertionRejectedError(f"signature/key check failed: {type(error).__name__}") from None
        self._check_claims(claims)
        return self.client_id

    def _find_key(self, kid: Any, alg: str) -> dict[str, Any]:
        keys = self.keys.current_keys()
        # Without a kid, only an unambiguous single registered key can be meant.
        candidates = [key for key in keys if key.get("kid") == kid] if kid is not None else keys[:1] * (len(keys) == 1)
        if len(candidates) != 1:
            raise AssertionRejectedError("no unique registered key for this kid")
        key = candidates[0]
        if key.get("alg") not in (None, alg):
            raise AssertionRejectedError("the registered key is pinned to another algorithm")
        if key.get("use") not in (None, "sig"):
            raise AssertionRejectedError("the registered key is not a signing key")
        return key

    def _check_claims(self, claims: Mapping[str, Any]) -> None:
        now = self.clock.now()
        if claims.get("iss") != self.client_id or claims.get("sub") != self.client_id:
            raise AssertionRejectedError("iss and sub must both be the client id")
        if claims.get("aud") != self.token_url:
            raise AssertionRejectedError("aud is not the token URL")
        exp = claims.get("exp")
        if not _is_number(exp) or exp <= now:
            raise AssertionRejectedError("exp missing or not in the future")
        if exp > now + MAX_ASSERTION_LIFETIME_SECONDS:
            raise AssertionRejectedError("exp more than 5 minutes ahead")
        for name in ("nbf", "iat"):
            value = claims.get(name)
            if value is not None and (not _is_number(value) or value > now):
                raise AssertionRejectedError(f"{name} is in the future")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
            raise AssertionRejectedError("jti missing or longer than 151 characters")
        if not self.replays.claim(jti, float(exp), now):
            raise AssertionRejectedError("jti reused before its assertion expired")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    client_id: str
    expires_at: float


class TokenStore:
    """Opaque bearer tokens. Only SHA-256 digests are kept, so a memory dump holds no usable token."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _digest(token: str) -> str:
        return hashlib.sha256(token.encode("utf-8")).hexdigest()

    def issue(self, client_id: str, lifetime_seconds: float) -> IssuedToken:
        token = secrets.token_urlsafe(48)
        expires_at = self.clock.now() + lifetime_seconds
        with self._lock:
            now = self.clock.now()
            self._tokens = {k: v for k, v in self._tokens.items() if v[1] > now}
            self._tokens[self._digest(token)] = (client_id, expires_at)
        return IssuedToken(access_token=token, client_id=client_id, expires_at=expires_at)

    def client_for(self, token: str) -> str | None:
        """The client a live token belongs to, or ``None`` for an unknown or expired token."""
        with self._lock:
            entry = self._tokens.get(self._digest(token))
        if entry is None or entry[1] <= self.clock.now():
            return None
        return entry[0]
