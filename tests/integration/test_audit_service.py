"""The audit trail through the real service on Postgres and Redis: each way of ending sessions
leaves exactly one record naming who and why (read through a side door: SQL), the history
pages through them, and no user ever sees another's."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.service_calls import eventually, identity
from tests.integration.token_logs import fetch_column
from tests.live_server import SERVER_ENV, LiveServer, live_server
from tests.random_refs import random_user_id

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

CREDENTIALS = {"app_id": SERVER_ENV["APP_ID"], "app_key": SERVER_ENV["APP_KEY"]}
GRACE = 1
COLUMNS = (
    "reason, actor_kind, actor_name, session_id, device, actor_session_id, actor_device, peer, note"
)


@pytest.fixture(scope="module")
def service(postgres_url: str, redis_url: str) -> Iterator[LiveServer]:
    env = {
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_url,
        "TRUSTED_PROXIES": "127.0.0.1",  # the test is the proxy: X-Forwarded-For names the peer
        "REPLAY_POLICY": "revoke-user",
        "REPLAY_GRACE_SECONDS": str(GRACE),
        "LOG_LEVEL": "WARNING",
    }
    with live_server(env) as server:
        yield server


@pytest.fixture
def client(service: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.base_url, timeout=10) as http:
        yield http


def from_peer(peer: str, token: str | None = None) -> dict[str, str]:
    headers = {"X-Forwarded-For": peer}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def log_in(client: httpx.Client, user_id: int, device: str) -> tuple[str, str]:
    """A token of the user on that device, and its session id."""
    body = {"user_id": user_id, "device": device, **CREDENTIALS}
    response = client.post("/api/v2/internal/tokens", json=body)
    assert response.status_code == 200, response.text
    token = str(response.json()["token"])
    return token, identity(token)[0].session_id


def records(service: LiveServer, user_id: int) -> list[tuple[Any, ...]]:
    """The user's audit records, oldest first, read with raw SQL."""
    sql = f"SELECT ({COLUMNS}) FROM revocation_audit WHERE user_id = {user_id} ORDER BY id"  # noqa: S608
    rows = asyncio.run(fetch_column(service.env["DATABASE_URL"], sql))
    return [tuple(row) for row in rows]


class TestEachPathRecordsOnce:
    def test_logout(self, service: LiveServer, client: httpx.Client) -> None:
        user = random_user_id()
        token, session = log_in(client, user, "phone")

        for _ in range(2):  # the second is refused: still one record
            client.post("/api/v2/logout", headers=from_peer("198.51.100.1", token))

        assert records(service, user) == [
            ("logout", "user", None, session, "phone", session, "phone", "198.51.100.1", None)
        ]

    def test_logout_all_devices(self, service: LiveServer, client: httpx.Client) -> None:
        user = random_user_id()
        log_in(client, user, "phone")
        token, session = log_in(client, user, "laptop")

        response = client.post(
            "/api/v2/logout-all-device", headers=from_peer("198.51.100.2", token)
        )

        assert response.status_code == 200
        assert records(service, user) == [
            ("logout_all", "user", None, None, None, session, "laptop", "198.51.100.2", None)
        ]

    def test_lgt_all(self, service: LiveServer, client: httpx.Client) -> None:
        user = random_user_id()
        body = {"user_id": user, "reason": "Password reset", **CREDENTIALS}

        response = client.post("/api/v2/lgt-all", json=body, headers=from_peer("10.0.0.5"))

        assert response.status_code == 200
        app_id, note = CREDENTIALS["app_id"], "Password reset"
        assert records(service, user) == [
            ("service_logout_all", "service", app_id, None, None, None, None, "10.0.0.5", note)
        ]

    def test_a_session_deleted_from_the_list(
        self, service: LiveServer, client: httpx.Client
    ) -> None:
        user = random_user_id()
        _, phone = log_in(client, user, "phone")
        laptop_token, laptop = log_in(client, user, "laptop")

        response = client.delete(
            f"/api/v2/sessions/{phone}", headers=from_peer("198.51.100.3", laptop_token)
        )

        assert response.status_code == 200
        peer = "198.51.100.3"
        assert records(service, user) == [
            ("session_revoked", "user", None, phone, "phone", laptop, "laptop", peer, None)
        ]

    def test_the_replay_policy(self, service: LiveServer, client: httpx.Client) -> None:
        user = random_user_id()
        stolen, session = log_in(client, user, "stolen laptop")
        client.post("/api/v2/logout", headers=from_peer("198.51.100.4", stolen))
        time.sleep(GRACE + 0.2)

        for _ in range(3):  # in one round or several: the policy acts once
            assert verify_from(client, stolen, "203.0.113.66").status_code == 401

        eventually(lambda: len(records(service, user)) == 2, "the policy's logout-all")
        time.sleep(0.5)  # rounds that could have acted twice
        assert (records(service, user))[1] == (
            "replay_detected", "policy", "replay", None, None, session, "stolen laptop",
            "203.0.113.66", None,
        )  # fmt: skip
        assert len(records(service, user)) == 2


class TestHistory:
    def test_pages_through_the_users_history(self, client: httpx.Client) -> None:
        user = random_user_id()
        for device in ("one", "two", "three"):
            token, _ = log_in(client, user, device)
            client.post("/api/v2/logout", headers={"Authorization": f"Bearer {token}"})
        asking, _ = log_in(client, user, "asking")

        seen, cursor = [], None
        while True:
            page = history(client, asking, limit=2, cursor=cursor)
            seen += [entry["session"]["device"] for entry in page["history"]]
            if (cursor := page["next_cursor"]) is None:
                break

        assert seen == ["three", "two", "one"]

    def test_another_users_history_is_never_visible(self, client: httpx.Client) -> None:
        mine, theirs = random_user_id(), random_user_id()
        for user in (theirs, theirs, mine):
            token, _ = log_in(client, user, f"device of {user}")
            client.post("/api/v2/logout", headers={"Authorization": f"Bearer {token}"})
        their_token, _ = log_in(client, theirs, "theirs")
        their_cursor = history(client, their_token, limit=1)["next_cursor"]
        my_token, _ = log_in(client, mine, "mine")

        asked_for_theirs = history(client, my_token, user_id=theirs, cursor=their_cursor)
        everything_mine = history(client, my_token, user_id=theirs)

        assert asked_for_theirs["history"] == []
        assert [e["session"]["device"] for e in everything_mine["history"]] == [f"device of {mine}"]

    def test_the_trusted_service_reads_any_users_history(self, client: httpx.Client) -> None:
        user = random_user_id()
        client.post("/api/v2/lgt-all", json={"user_id": user, "reason": 42, **CREDENTIALS})
        basic = base64.b64encode(f"{CREDENTIALS['app_id']}:{CREDENTIALS['app_key']}".encode())

        response = client.post(
            "/api/v2/internal/sessions/history",
            json={"user_id": user},
            headers={"Authorization": f"Basic {basic.decode()}"},
        )

        assert response.status_code == 200, response.text
        [entry] = response.json()["history"]
        assert (entry["user_id"], entry["reason"], entry["note_dropped"]) == (
            user,
            "service_logout_all",
            True,
        )


def verify_from(client: httpx.Client, token: str, peer: str) -> httpx.Response:
    return client.get("/api/v2/auth/verify", headers=from_peer(peer, token))


def history(client: httpx.Client, token: str, **query: object) -> dict[str, Any]:
    params = {name: str(value) for name, value in query.items() if value is not None}
    response = client.get(
        "/api/v2/sessions/history", params=params, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
