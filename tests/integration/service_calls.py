"""The live service's endpoints, as a fault test calls them (sync httpx on loopback)."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import jwt

from revocation.adapters.redis.client import KeyLayout
from revocation.domain.model import TokenKey
from tests.live_server import SERVER_ENV

UNAVAILABLE = {"title": "Service Unavailable"}
UNAUTHORIZED = {"title": "Unauthorized"}
_KEYS = KeyLayout()  # the key layout alone


def issue(client: httpx.Client, user_id: int) -> httpx.Response:
    return client.post(
        "/api/v2/internal/tokens",
        json={"user_id": user_id, "app_id": SERVER_ENV["APP_ID"], "app_key": SERVER_ENV["APP_KEY"]},
    )


def issue_token(client: httpx.Client, user_id: int) -> str:
    response = issue(client, user_id)
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def logout(client: httpx.Client, token: str) -> httpx.Response:
    return client.post("/api/v2/logout", headers={"Authorization": f"Bearer {token}"})


def logout_all(client: httpx.Client, token: str) -> httpx.Response:
    return client.post("/api/v2/logout-all-device", headers={"Authorization": f"Bearer {token}"})


def verify(client: httpx.Client, token: str) -> httpx.Response:
    """The gateway's check: a protected request that changes nothing."""
    return client.get("/api/v2/auth/verify", headers={"Authorization": f"Bearer {token}"})


def identity(token: str) -> tuple[TokenKey, int]:
    """(iss, jti) and the user id of one of our tokens, read without verifying it."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return TokenKey(claims.get("iss", ""), claims["jti"]), int(claims["sub"])


def token_key(token: str) -> bytes:
    """The Redis key of a token's blacklist entry: the side door's view."""
    return _KEYS.token_key(identity(token)[0])


def watermark_key(user_id: int) -> bytes:
    return _KEYS.watermark_key(user_id)


def eventually(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.1)
