"""Random ids per test instead of cleanup: tests share servers and never collide."""

from __future__ import annotations

import random
import secrets

from revocation.domain.model import MAX_USER_ID, TokenKey


def random_user_id() -> int:
    return random.randint(10**12, MAX_USER_ID)


def random_key(issuer: str = "test-issuer") -> TokenKey:
    return TokenKey(issuer=issuer, jti=secrets.token_urlsafe(12))
