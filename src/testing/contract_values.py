"""Random values that keep contract tests apart on a shared server (nothing is cleaned up)."""

from __future__ import annotations

import secrets

from revocation.domain.audit import Actor, Reason, Revocation
from revocation.domain.model import TokenKey, TokenRecord

NOW = 1_800_000_000.0  # a fixed instant in the future: no real token's times reach it
HOUR = 3600.0
LOGOUT = Revocation(Reason.LOGOUT, Actor("user"), None)
LOGOUT_ALL = Revocation(Reason.LOGOUT_ALL, Actor("user"), None)


def random_user_id() -> int:
    return secrets.randbelow(2**62) + 1


def random_key() -> TokenKey:
    return TokenKey(issuer="contract-tests", jti=secrets.token_urlsafe(12))


def token_record(user_id: int, issued_at: float = NOW, lifetime: float = HOUR) -> TokenRecord:
    return TokenRecord(random_key(), user_id, issued_at, issued_at + lifetime, device="contract")
