"""GET and DELETE /api/v2/sessions, and CORS, over HTTP on the in-memory app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from revocation.entrypoints.app import create_app
from tests.app_factory import TEST_ENV, in_memory_container

Client = AsyncTestClient[Litestar]
CREDENTIALS = {"app_id": TEST_ENV["APP_ID"], "app_key": TEST_ENV["APP_KEY"]}
NOT_FOUND = {"title": "Not Found"}
UNAUTHORIZED = {"title": "Unauthorized"}
PAGE = "http://127.0.0.2:5173"


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(in_memory_container())) as test_client:
        yield test_client


async def issue(client: Client, user_id: int, device: str | None = None) -> str:
    body = {"user_id": user_id, "device": device, **CREDENTIALS}
    response = await client.post("/api/v2/internal/tokens", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def sessions(client: Client, token: str) -> list[dict[str, object]]:
    response = await client.get("/api/v2/sessions", headers=auth(token))
    assert response.status_code == 200, response.text
    listed: list[dict[str, object]] = response.json()["sessions"]
    return listed


class TestListSessions:
    async def test_lists_the_callers_sessions_with_the_current_one_marked(
        self, client: Client
    ) -> None:
        laptop = await issue(client, 7, "laptop")
        await issue(client, 7, "phone")
        await issue(client, 8, "another user's")

        listed = await sessions(client, laptop)

        assert sorted((s["device"], s["current"]) for s in listed) == [
            ("laptop", True),
            ("phone", False),
        ]
        for session in listed:
            assert set(session) == {"id", "device", "issued_at", "expires_at", "current"}
            assert isinstance(session["id"], str)
            assert isinstance(session["expires_at"], int)
            assert isinstance(session["issued_at"], int)
            assert session["expires_at"] == session["issued_at"] + 3600

    async def test_needs_a_live_token(self, client: Client) -> None:
        token = await issue(client, 7)
        await client.post("/api/v2/logout", headers=auth(token))
        for response in [
            await client.get("/api/v2/sessions"),
            await client.get("/api/v2/sessions", headers=auth(token)),
        ]:
            assert response.status_code == 401
            assert response.json() == UNAUTHORIZED


class TestRevokeSession:
    async def test_revokes_another_of_the_callers_sessions(self, client: Client) -> None:
        laptop, phone = await issue(client, 7, "laptop"), await issue(client, 7, "phone")
        (phone_session,) = [s for s in await sessions(client, laptop) if s["device"] == "phone"]

        response = await client.delete(
            f"/api/v2/sessions/{phone_session['id']}", headers=auth(laptop)
        )

        assert response.status_code == 200
        assert response.json() == {"message": "Session Revoked."}
        refused = await client.post("/api/v2/logout", headers=auth(phone))
        assert refused.status_code == 401
        assert [s["device"] for s in await sessions(client, laptop)] == ["laptop"]

    async def test_revokes_the_current_session(self, client: Client) -> None:
        token = await issue(client, 7)
        (session,) = await sessions(client, token)

        response = await client.delete(f"/api/v2/sessions/{session['id']}", headers=auth(token))

        assert response.status_code == 200
        assert (await client.get("/api/v2/sessions", headers=auth(token))).status_code == 401

    async def test_another_users_session_is_not_found_and_stays_live(self, client: Client) -> None:
        attacker, victim = await issue(client, 7), await issue(client, 8)
        (victim_session,) = await sessions(client, victim)

        path = f"/api/v2/sessions/{victim_session['id']}"
        response = await client.delete(path, headers=auth(attacker))

        assert response.status_code == 404
        assert response.json() == NOT_FOUND
        assert len(await sessions(client, victim)) == 1

    @pytest.mark.parametrize("session_id", ["424242", "abc", "-1", "9" * 40, "1%2F2"])
    async def test_an_unknown_id_is_not_found(self, client: Client, session_id: str) -> None:
        token = await issue(client, 7)
        response = await client.delete(f"/api/v2/sessions/{session_id}", headers=auth(token))
        assert response.status_code == 404
        assert response.json() == NOT_FOUND

    async def test_needs_a_live_token(self, client: Client) -> None:
        response = await client.delete("/api/v2/sessions/1")
        assert response.status_code == 401
        assert response.json() == UNAUTHORIZED


class TestOpenAPI:
    async def test_documents_both_operations_with_bearer_auth(self, client: Client) -> None:
        schema = (await client.get("/schema/openapi.json")).json()
        paths, components = schema["paths"], schema["components"]["schemas"]
        listing = paths["/api/v2/sessions"]["get"]
        revoking = paths["/api/v2/sessions/{session_id}"]["delete"]
        assert listing["security"] == revoking["security"] == [{"BearerToken": []}]
        assert set(listing["responses"]) == {"200", "401", "503"}
        assert set(revoking["responses"]) == {"200", "401", "404", "503"}
        body = components["SessionBody"]
        assert set(body["required"]) == {"id", "device", "issued_at", "expires_at", "current"}
        assert "Unix seconds" in body["properties"]["issued_at"]["description"]


PREFLIGHT = {
    "Origin": PAGE,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}


class TestCors:
    async def test_off_by_default(self, client: Client) -> None:
        token = await issue(client, 7)
        response = await client.get("/api/v2/sessions", headers={**auth(token), "Origin": PAGE})
        assert response.status_code == 200
        assert "access-control-allow-origin" not in response.headers

    async def test_a_preflight_from_an_allowed_origin_is_answered_without_a_token(self) -> None:
        container = in_memory_container(CORS_ALLOWED_ORIGINS=f"https://app.example, {PAGE}")
        async with AsyncTestClient(app=create_app(container)) as client:
            response = await client.options("/api/v2/logout", headers=PREFLIGHT)
        assert response.status_code in (200, 204)
        assert response.headers["access-control-allow-origin"] == PAGE
        assert "authorization" in response.headers["access-control-allow-headers"].lower()
        assert "POST" in response.headers["access-control-allow-methods"]
        assert "access-control-allow-credentials" not in response.headers

    async def test_answers_carry_the_header_even_a_401(self) -> None:
        container = in_memory_container(CORS_ALLOWED_ORIGINS=PAGE)
        async with AsyncTestClient(app=create_app(container)) as client:
            response = await client.post("/api/v2/logout", headers={"Origin": PAGE})
        assert response.status_code == 401
        assert response.headers["access-control-allow-origin"] == PAGE

    async def test_another_origin_gets_no_allow_header(self) -> None:
        container = in_memory_container(CORS_ALLOWED_ORIGINS=PAGE)
        async with AsyncTestClient(app=create_app(container)) as client:
            evil = {**PREFLIGHT, "Origin": "http://127.0.0.3:5173"}
            response = await client.options("/api/v2/logout", headers=evil)
        assert "access-control-allow-origin" not in response.headers
