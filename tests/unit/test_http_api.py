"""The HTTP contract: statuses, exact bodies and headers, on in-memory adapters."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from dependency_injector import providers
from litestar import Litestar
from litestar.testing import AsyncTestClient

from revocation.domain.model import Claims, TokenKey
from revocation.entrypoints.app import create_app
from tests.app_factory import TEST_ENV, in_memory_container
from tests.fakes import DownTokenLog

Client = AsyncTestClient[Litestar]
UNAUTHORIZED = {"title": "Unauthorized"}
NO_USER = {"title": "Kindly Provide User ID"}
NO_CREDENTIALS = {"title": "Kindly Provide APP ID and APP KEY"}
BAD_CREDENTIALS = {"title": "Kindly Provide Valid APP ID and APP KEY"}
CREDENTIALS = {"app_id": TEST_ENV["APP_ID"], "app_key": TEST_ENV["APP_KEY"]}


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(in_memory_container())) as test_client:
        yield test_client


async def issue(client: Client, user_id: int = 12345, device: str | None = None) -> str:
    response = await client.post(
        "/api/v2/internal/tokens", json={"user_id": user_id, "device": device, **CREDENTIALS}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    return str(body["token"])


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


class TestLogout:
    async def test_logs_out_then_the_token_is_refused(self, client: Client) -> None:
        token = await issue(client)
        response = await client.post("/api/v2/logout", headers=auth(token))
        assert response.status_code == 200
        assert response.content == b'{"message":"Successfully Logged Out."}'
        again = await client.post("/api/v2/logout", headers=auth(token))
        assert again.status_code == 401
        assert again.json() == UNAUTHORIZED
        assert again.headers["www-authenticate"] == "Bearer"

    @pytest.mark.parametrize(
        "headers",
        [
            {},
            {"Authorization": ""},
            {"Authorization": "Basic Zm9vOmJhcg=="},
            {"Authorization": "Bearer not-a-jwt"},
            {"Authorization": "Bearer " + "a" * 20_000},
        ],
    )
    async def test_refuses_a_missing_or_bad_token(
        self, client: Client, headers: dict[str, str]
    ) -> None:
        response = await client.post("/api/v2/logout", headers=headers)
        assert response.status_code == 401
        assert response.json() == UNAUTHORIZED
        assert response.headers["www-authenticate"] == "Bearer"

    async def test_answers_503_when_the_database_is_down(self) -> None:
        container = in_memory_container()
        container.token_log.override(providers.Object(DownTokenLog()))
        async with AsyncTestClient(app=create_app(container)) as client:
            response = await client.post("/api/v2/logout", headers=auth("a.b.c"))
            assert response.status_code == 401  # a malformed token needs no database
            claims = Claims(TokenKey("", "some-jti"), 1, int(time.time()), int(time.time()) + 60)
            token = container.codec().encode(claims)
            response = await client.post("/api/v2/logout", headers=auth(token))
        assert response.status_code == 503
        assert response.json() == {"title": "Service Unavailable"}


class TestLogoutAllDevice:
    async def test_logs_out_every_device_but_a_new_login_works(self, client: Client) -> None:
        phone, laptop = await issue(client, 5), await issue(client, 5)
        other_user = await issue(client, 6)
        response = await client.post("/api/v2/logout-all-device", headers=auth(phone))
        assert response.status_code == 200
        assert response.content == b'{"message":"Successfully Logged Out From All Device."}'
        for token in (phone, laptop):
            assert (await client.post("/api/v2/logout", headers=auth(token))).status_code == 401
        fresh = await issue(client, 5)
        assert (await client.post("/api/v2/logout", headers=auth(fresh))).status_code == 200
        assert (await client.post("/api/v2/logout", headers=auth(other_user))).status_code == 200


class TestLgtAll:
    async def test_logs_the_user_out_everywhere(self, client: Client) -> None:
        token = await issue(client, 12345)
        response = await client.post("/api/v2/lgt-all", json={"user_id": 12345, **CREDENTIALS})
        assert response.status_code == 200
        assert response.content == b'{"message":"Successfully Logged Out From All Device."}'
        assert (await client.post("/api/v2/logout", headers=auth(token))).status_code == 401

    async def test_succeeds_for_a_user_with_no_tokens(self, client: Client) -> None:
        response = await client.post("/api/v2/lgt-all", json={"user_id": 999, **CREDENTIALS})
        assert response.status_code == 200

    @pytest.mark.parametrize(
        ("body", "expected"),
        [
            (b"not json", NO_USER),
            (b"[1, 2]", NO_USER),
            (b"", NO_USER),
            (b'"12345"', NO_USER),
            (b'{"app_id": "a", "app_key": "b"}', NO_USER),
            (b'{"user_id": null}', NO_USER),
            (b'{"user_id": 12.5}', NO_USER),
            (b'{"user_id": -4}', NO_USER),
            (b'{"user_id": 99999999999999999999999}', NO_USER),
            (b'{"user_id": true}', NO_USER),
            (b'{"user_id": "12a"}', NO_USER),
            (b'{"user_id": 1}', NO_CREDENTIALS),
            (b'{"user_id": "1", "app_id": "x"}', NO_CREDENTIALS),
            (b'{"user_id": 1, "app_id": "", "app_key": "k"}', NO_CREDENTIALS),
            (b'{"user_id": 1, "app_id": 5, "app_key": "k"}', NO_CREDENTIALS),
            (b'{"user_id": 1, "app_id": "x", "app_key": "y"}', BAD_CREDENTIALS),
            (
                b'{"user_id": 1, "app_id": "laravel-app", "app_key": "laravel-secret-ke"}',
                BAD_CREDENTIALS,
            ),
            ('{"user_id": 1, "app_id": "laravel-app", "app_key": "é"}'.encode(), BAD_CREDENTIALS),
        ],
    )
    async def test_answers_the_first_failed_rule(
        self, client: Client, body: bytes, expected: dict[str, str]
    ) -> None:
        response = await client.post("/api/v2/lgt-all", content=body)
        assert response.status_code == 401
        assert response.json() == expected

    async def test_parses_json_without_a_content_type(self, client: Client) -> None:
        body = b'{"user_id": "12345", "app_id": "laravel-app", "app_key": "laravel-secret-key"}'
        response = await client.post(
            "/api/v2/lgt-all", content=body, headers={"Content-Type": "text/plain"}
        )
        assert response.status_code == 200

    async def test_throttles_a_guessing_peer_with_retry_after(self, client: Client) -> None:
        wrong = {"user_id": 1, "app_id": "laravel-app", "app_key": "guess"}
        for _ in range(3):
            assert (await client.post("/api/v2/lgt-all", json=wrong)).json() == BAD_CREDENTIALS
        throttled = await client.post("/api/v2/lgt-all", json={"user_id": 1, **CREDENTIALS})
        assert throttled.status_code == 401
        assert throttled.json() == BAD_CREDENTIALS
        assert int(throttled.headers["retry-after"]) > 0


class TestFrameworkErrorsShareTheTitleShape:
    async def test_unknown_route(self, client: Client) -> None:
        response = await client.get("/nope")
        assert (response.status_code, response.json()) == (404, {"title": "Not Found"})

    async def test_wrong_method(self, client: Client) -> None:
        response = await client.get("/api/v2/lgt-all")
        assert (response.status_code, response.json()) == (405, {"title": "Method Not Allowed"})

    async def test_oversized_body(self, client: Client) -> None:
        response = await client.post("/api/v2/lgt-all", content=b"x" * 100_000)
        assert response.status_code == 413
        assert response.json() == {"title": "Request Entity Too Large"}

    async def test_schema_is_public_and_documents_the_bearer_scheme(self, client: Client) -> None:
        schema = (await client.get("/schema/openapi.json")).json()
        assert schema["components"]["securitySchemes"]["BearerToken"]["scheme"] == "bearer"
        assert {"/api/v2/logout", "/api/v2/logout-all-device", "/api/v2/lgt-all"} <= set(
            schema["paths"]
        )
        lgt_all = schema["paths"]["/api/v2/lgt-all"]["post"]
        assert (
            "user_id"
            in lgt_all["requestBody"]["content"]["application/json"]["schema"]["properties"]
        )
