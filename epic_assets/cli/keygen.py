"""``epic-assets keygen``: create the key pair and the public forms to register with Epic."""

from __future__ import annotations

import argparse
from pathlib import Path

from epic_assets.security.keys import SUPPORTED_KEY_ALGORITHMS, generate_key_files


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "keygen",
        help="generate a signing key, its self-signed certificate and a JWK Set",
        description=(
            "Write DIR/private_key.pem (mode 0600), DIR/public_cert.pem (for Epic's static-key upload) "
            "and DIR/jwks.json (a public JWK Set to host as your JKU). Key material is never printed."
        ),
    )
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="directory to write the files to")
    parser.add_argument("--alg", choices=SUPPORTED_KEY_ALGORITHMS, default="RS384", help="signing algorithm")
    parser.add_argument("--kid", help="key id for the JWKS (default: the RFC 7638 thumbprint)")
    parser.add_argument("--force", action="store_true", help="replace an existing key pair in DIR")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    files = generate_key_files(args.out, alg=args.alg, kid=args.kid, force=args.force)
    print(f"private key : {files.private_key} (keep secret; mode 0600)")
    print(f"certificate : {files.public_cert} (upload to Epic as the static public key)")
    print(f"JWK Set     : {files.jwks} (host it and register the URL as your JKU)")
    print(f"key id      : {files.kid}  algorithm: {files.alg}")
    return 0
