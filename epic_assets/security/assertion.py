"""The signed JWT (client assertion) a backend app posts to Epic's token endpoint."""

from __future__ import annotations

import time
import uuid

import jwt

from epic_assets.security.keys import PrivateKey, signing_algorithm_for

# Epic allows exp at most 5 minutes ahead and documents no clock-skew tolerance, so stay inside it
# and back-date iat/nbf a little for servers whose clock runs slightly behind ours.
ASSERTION_LIFETIME_SECONDS = 240
BACKDATE_SECONDS = 5


def sign_client_assertion(
    private_key: PrivateKey,
    *,
    client_id: str,
    token_url: str,
    kid: str | None,
    alg: str | None = None,
    jku: str | None = None,
    now: float | None = None,
    lifetime_seconds: int = ASSERTION_LIFETIME_SECONDS,
    jti: str | None = None,
) -> str:
    """A compact JWS with ``iss`` = ``sub`` = client id and ``aud`` = the exact token URL."""
    issued = int(time.time() if now is None else now)
    headers: dict[str, str] = {"typ": "JWT"}
    if kid:
        headers["kid"] = kid
    if jku:
        headers["jku"] = jku
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": token_url,
        "jti": jti or str(uuid.uuid4()),
        "iat": issued - BACKDATE_SECONDS,
        "nbf": issued - BACKDATE_SECONDS,
        "exp": issued + lifetime_seconds,
    }
    return jwt.encode(claims, private_key, algorithm=alg or signing_algorithm_for(private_key), headers=headers)
