"""Public keys as JWKs (RFC 7517), named by their RFC 7638 thumbprint: the `kid` our tokens
carry and `/.well-known/jwks.json` serves, so any JWT library can verify them offline."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from typing import Any

import jwt

# RFC 7638 section 3.2: the members a thumbprint covers, per key type.
_THUMBPRINT_MEMBERS = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
}


def public_jwk(key: Any, algorithm: str) -> dict[str, str]:
    """A prepared public key as a JWK, with its `kid` (thumbprint), `alg` and `use`."""
    jwk: dict[str, str] = jwt.get_algorithm_by_name(algorithm).to_jwk(key, as_dict=True)
    return {**jwk, "kid": thumbprint(jwk), "alg": algorithm, "use": "sig"}


def thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638: SHA-256 of the required members, sorted, without whitespace; base64url."""
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def key_set(jwks: Sequence[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    """The JWK Set document: every verification key, the signing one first."""
    return {"keys": list(jwks)}
