"""GET /api/v2/sessions/history and its internal twin over HTTP, on the in-memory app."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from revocation.entrypoints.app import create_app
from tests.app_factory import TEST_ENV, in_memory_container

Client = AsyncTestClient[Litestar]
CREDENTIALS = {"app_id": TEST_ENV["APP_ID"], "app_key": TEST_ENV["APP_KEY"]}
BAD_REQUEST = {"title": "Bad Request"}
HISTORY = "/api/v2/sessions/history"
INTERNAL = "/api/v2/internal/sessions/history"


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    app = create_app(in_memory_container())
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


async def issue(client: Client, user_id: int, device: str) -> str:
    body = {"user_id": user_id, "device": device, **CREDENTIALS}
    response = await client.post("/api/v2/internal/tokens", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(app_id: str, app_key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{app_id}:{app_key}".encode()).decode()}


MALFORMED_BASIC = {"Authorization": "Basic %%%"}  # never falls back to the body's
WRONG_BASIC = basic(CREDENTIALS["app_id"], "wrong")


async def history(client: Client, token: str, **query: str) -> dict[str, Any]:
    response = await client.get(HISTORY, headers=auth(token), params=query)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def three_logouts(client: Client, user_id: int) -> str:
    """Three of the user's sessions logged out; a live token of the user to ask with."""
    for device in ("phone", "tablet", "tv"):
        token = await issue(client, user_id, device)
        assert (await client.post("/api/v2/logout", headers=auth(token))).status_code == 200
    return await issue(client, user_id, "laptop")


class TestUserHistory:
    async def test_tells_when_which_device_why_and_by_whom(self, client: Client) -> None:
        phone = await issue(client, 7, "phone")
        await client.post("/api/v2/logout", headers=auth(phone))
        laptop = await issue(client, 7, "laptop")

        [entry] = (await history(client, laptop))["history"]

        assert entry["session"]["device"] == "phone"
        assert (entry["reason"], entry["actor"]["kind"]) == ("logout", "user")
        assert entry["actor"]["session"] == entry["session"]
        assert entry["actor"]["ip"] == "testclient"
        assert entry["description"] == 'You logged out on "phone".'
        assert isinstance(entry["ended_at"], int)

    async def test_pages_with_an_opaque_cursor(self, client: Client) -> None:
        token = await three_logouts(client, 7)

        first = await history(client, token, limit="2")
        rest = await history(client, token, limit="2", cursor=first["next_cursor"])

        devices = [e["session"]["device"] for e in first["history"] + rest["history"]]
        assert devices == ["tv", "tablet", "phone"]
        assert rest["next_cursor"] is None

    async def test_another_users_history_is_never_visible(self, client: Client) -> None:
        theirs = await three_logouts(client, 8)
        their_cursor = (await history(client, theirs, limit="1"))["next_cursor"]
        mine = await issue(client, 7, "laptop")

        with_their_cursor = await history(client, mine, cursor=their_cursor, user_id="8")

        assert with_their_cursor == {"history": [], "next_cursor": None}

    @pytest.mark.parametrize(
        "query",
        [
            {"limit": "0"},
            {"limit": "101"},
            {"limit": "x"},
            {"cursor": "short"},
            {"cursor": "_" * 11},
        ],
    )
    async def test_refuses_a_page_it_never_gave(
        self, client: Client, query: dict[str, str]
    ) -> None:
        token = await issue(client, 7, "laptop")

        response = await client.get(HISTORY, headers=auth(token), params=query)

        assert (response.status_code, response.json()) == (400, BAD_REQUEST)

    async def test_needs_a_live_token(self, client: Client) -> None:
        token = await three_logouts(client, 7)
        await client.post("/api/v2/logout", headers=auth(token))

        response = await client.get(HISTORY, headers=auth(token))

        assert (response.status_code, response.json()) == (401, {"title": "Unauthorized"})

    async def test_shows_the_services_reason_but_not_its_name_or_address(
        self, client: Client
    ) -> None:
        body = {"user_id": 7, "reason": "Password changed", **CREDENTIALS}
        assert (await client.post("/api/v2/lgt-all", json=body)).is_success
        laptop = await issue(client, 7, "laptop")

        [entry] = (await history(client, laptop))["history"]

        assert entry["session"] is None
        assert entry["actor"] == {"kind": "service", "name": None, "session": None, "ip": None}
        assert entry["note"] == "Password changed"
        assert entry["description"] == (
            "All your sessions were ended by the application. Reason given: Password changed."
        )


class TestLgtAllReason:
    @pytest.mark.parametrize("reason", [12, "x" * 500, "two\nlines", {"a": 1}, None])
    async def test_a_reason_never_causes_a_refusal(self, client: Client, reason: object) -> None:
        body = {"user_id": 7, "reason": reason, **CREDENTIALS}

        response = await client.post("/api/v2/lgt-all", json=body)

        assert response.status_code == 200


class TestServiceHistory:
    async def test_shows_a_users_history_with_credentials_in_the_body(self, client: Client) -> None:
        await three_logouts(client, 9)
        body = {"user_id": 9, "limit": 2, **CREDENTIALS}

        response = await client.post(INTERNAL, json=body)

        assert response.status_code == 200, response.text
        page = response.json()
        assert [e["session"]["device"] for e in page["history"]] == ["tv", "tablet"]
        assert {(e["user_id"], e["note_dropped"]) for e in page["history"]} == {(9, False)}
        after = {"user_id": 9, "cursor": page["next_cursor"], **CREDENTIALS}
        rest = (await client.post(INTERNAL, json=after)).json()
        assert [e["session"]["device"] for e in rest["history"]] == ["phone"]

    async def test_takes_http_basic_before_the_body(self, client: Client) -> None:
        await three_logouts(client, 9)
        wrong_in_body = {"user_id": 9, "app_id": "x", "app_key": "y"}

        response = await client.post(INTERNAL, json=wrong_in_body, headers=basic(**CREDENTIALS))

        assert response.status_code == 200, response.text
        assert len(response.json()["history"]) == 3

    @pytest.mark.parametrize(
        ("body", "headers", "title"),
        [
            ({**CREDENTIALS}, {}, "Kindly Provide User ID"),
            ({"user_id": 9}, {}, "Kindly Provide APP ID and APP KEY"),
            ({"user_id": 9, **CREDENTIALS}, MALFORMED_BASIC, "Kindly Provide APP ID and APP KEY"),
            ({"user_id": 9}, WRONG_BASIC, "Kindly Provide Valid APP ID and APP KEY"),
        ],
    )  # fmt: skip
    async def test_refuses_as_lgt_all_does(
        self, client: Client, body: dict[str, object], headers: dict[str, str], title: str
    ) -> None:
        response = await client.post(INTERNAL, json=body, headers=headers)

        assert (response.status_code, response.json()) == (401, {"title": title})

    async def test_never_reads_credentials_from_the_query_string(self, client: Client) -> None:
        response = await client.post(INTERNAL, json={"user_id": 9}, params=CREDENTIALS)

        assert response.json() == {"title": "Kindly Provide APP ID and APP KEY"}

    async def test_shows_the_service_what_the_user_does_not_see(self, client: Client) -> None:
        body = {"user_id": 9, "reason": ["not", "text"], **CREDENTIALS}
        await client.post("/api/v2/lgt-all", json=body)

        response = await client.post(INTERNAL, json={"user_id": 9, **CREDENTIALS})

        [entry] = response.json()["history"]
        assert entry["actor"] == {
            "kind": "service",
            "name": CREDENTIALS["app_id"],
            "session": None,
            "ip": "testclient",  # the test client's peer, as the service saw it
        }
        assert (entry["note"], entry["note_dropped"]) == (None, True)
