"""Hand-made JWTs, so hostile-input tests can send what no well-behaved library would sign."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: object) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def payload_of(token: str) -> dict[str, Any]:
    """The claims of a token, signature not checked (to copy a real token's jti and times)."""
    body = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return decoded


def hs256(payload: dict[str, Any], key: str | bytes, header: dict[str, Any] | None = None) -> str:
    """HMAC-SHA256 over any header and payload, with any key (a public key's PEM, say)."""
    signing_input = f"{segment(header or {'alg': 'HS256', 'typ': 'JWT'})}.{segment(payload)}"
    secret = key.encode() if isinstance(key, str) else key
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def unsigned(payload: dict[str, Any]) -> str:
    """`alg: none`: no signature at all."""
    return f"{segment({'alg': 'none', 'typ': 'JWT'})}.{segment(payload)}."


def flip_last_char(part: str) -> str:
    return part[:-1] + ("A" if part[-1] != "A" else "B")
