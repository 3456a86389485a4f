"""Key pairs for Epic Backend Services: the private key we sign with and the public forms Epic accepts.

Epic takes the public half either as a hosted JWK Set (a JKU, the preferred route) or as an uploaded
X.509 certificate (the static-key route Epic is retiring). :func:`generate_key_files` writes all three
artefacts at once so a user can register whichever their Epic build asks for.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from epic_assets.errors import EpicAssetsError

PRIVATE_KEY_FILE = "private_key.pem"
PUBLIC_CERT_FILE = "public_cert.pem"
JWKS_FILE = "jwks.json"

# Epic accepts RS384 for every registration route; ES384 only when the key is served from a JWKS URL.
SUPPORTED_KEY_ALGORITHMS = ("RS384", "ES384")
_RSA_KEY_BITS = 2048  # Epic's documented minimum and what its examples use
_CERT_VALIDITY = dt.timedelta(days=730)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


@dataclass(frozen=True)
class KeyFiles:
    """Where :func:`generate_key_files` wrote things, and the key id the JWKS advertises."""

    private_key: Path
    public_cert: Path
    jwks: Path
    kid: str
    alg: str


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_jwk(public_key: PublicKey) -> dict[str, Any]:
    """The bare public JWK (no ``kid``/``alg``/``use``) for an RSA or EC public key."""
    if isinstance(public_key, rsa.RSAPublicKey):
        jwk = dict(RSAAlgorithm.to_jwk(public_key, as_dict=True))
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        jwk = dict(ECAlgorithm.to_jwk(public_key, as_dict=True))
    else:
        raise EpicAssetsError(f"unsupported public key type {type(public_key).__name__}; use an RSA or EC key")
    # RFC 7517 4.3: "use" and "key_ops" should not appear together; Epic documents "use".
    jwk.pop("key_ops", None)
    return jwk


# RFC 7638 section 3.2: only these members, in lexicographic order, feed the thumbprint.
_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint of a public JWK, base64url without padding."""
    members = _THUMBPRINT_MEMBERS.get(str(jwk.get("kty")))
    if members is None:
        raise EpicAssetsError(f"cannot compute a thumbprint for key type {jwk.get('kty')!r}")
    canonical = json.dumps({name: jwk[name] for name in members}, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def generate_private_key(alg: str) -> PrivateKey:
    if alg == "RS384":
        return rsa.generate_private_key(public_exponent=65537, key_size=_RSA_KEY_BITS)
    if alg == "ES384":
        return ec.generate_private_key(ec.SECP384R1())
    raise EpicAssetsError(f"unsupported key algorithm {alg!r}; choose one of {', '.join(SUPPORTED_KEY_ALGORITHMS)}")


def jwks_document(public_key: PublicKey, kid: str, alg: str) -> dict[str, Any]:
    """A JWK Set with one signing key, ready to host as the JKU Epic fetches."""
    jwk = public_jwk(public_key)
    jwk.update({"kid": kid, "alg": alg, "use": "sig"})
    return {"keys": [jwk]}


def self_signed_certificate(private_key: PrivateKey, common_name: str, now: dt.datetime) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _CERT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(private_key, hashes.SHA384())
    )


def load_private_key(path: Path) -> PrivateKey:
    """Read a PEM private key; the message never echoes the file's content."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise EpicAssetsError(f"private key {path}: no such file") from None
    except (ValueError, TypeError):
        raise EpicAssetsError(f"private key {path}: not an unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise EpicAssetsError(f"private key {path}: unsupported key type {type(key).__name__}")
    return key


def signing_algorithm_for(key: PrivateKey) -> str:
    """The JWS algorithm Epic expects for this key (RS384 for RSA, ES256/ES384 by curve)."""
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS384"
    curve_algs = {"secp256r1": "ES256", "secp384r1": "ES384"}
    alg = curve_algs.get(key.curve.name)
    if alg is None:
        raise EpicAssetsError(f"EC curve {key.curve.name} is not accepted by Epic; use P-256 or P-384")
    return alg


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Write via a private temp file then rename, so a reader never sees a half-written key."""
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temp.replace(path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def generate_key_files(
    out_dir: Path,
    alg: str = "RS384",
    kid: str | None = None,
    force: bool = False,
    common_name: str = "epic-assets backend client",
) -> KeyFiles:
    """Create ``private_key.pem`` (0600), ``public_cert.pem`` and ``jwks.json`` in ``out_dir``.

    Refuses to replace existing files unless ``force``: silently rotating a key that Epic has
    registered would break every later token request.
    """
    targets = [out_dir / PRIVATE_KEY_FILE, out_dir / PUBLIC_CERT_FILE, out_dir / JWKS_FILE]
    existing = [path for path in targets if path.exists()]
    if existing and not force:
        names = ", ".join(path.name for path in existing)
        raise EpicAssetsError(f"{out_dir} already holds {names}; pass --force to replace the key pair")
    if kid is not None and (not kid or len(kid) > 256 or any(ch.isspace() for ch in kid)):
        raise EpicAssetsError("--kid must be 1-256 characters without whitespace")
    private_key = generate_private_key(alg)
    public_key = private_key.public_key()
    key_id = kid or jwk_thumbprint(public_jwk(public_key))

    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # the mode applies only if we create it
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    certificate = self_signed_certificate(private_key, common_name, dt.datetime.now(dt.UTC))
    _write_atomically(targets[0], private_pem, 0o600)
    _write_atomically(targets[1], certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    jwks = json.dumps(jwks_document(public_key, key_id, alg), indent=2) + "\n"
    _write_atomically(targets[2], jwks.encode("utf-8"), 0o644)
    return KeyFiles(private_key=targets[0], public_cert=targets[1], jwks=targets[2], kid=key_id, alg=alg)
