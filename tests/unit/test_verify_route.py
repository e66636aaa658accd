"""The gateway's verify route on in-memory adapters: identity headers, 401, 503, every method."""

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
VERIFY = "/api/v2/auth/verify"
UNAUTHORIZED = b'{"title":"Unauthorized"}'
CREDENTIALS = {"app_id": TEST_ENV["APP_ID"], "app_key": TEST_ENV["APP_KEY"]}
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(in_memory_container())) as test_client:
        yield test_client


async def issue(client: Client, user_id: int = 4242) -> dict[str, str]:
    response = await client.post(
        "/api/v2/internal/tokens", json={"user_id": user_id, **CREDENTIALS}
    )
    assert response.status_code == 200, response.text
    return {key: str(value) for key, value in response.json().items()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class TestVerify:
    async def test_a_live_token_gets_200_and_its_identity_in_headers(self, client: Client) -> None:
        issued = await issue(client, 4242)
        response = await client.get(VERIFY, headers=bearer(issued["token"]))
        assert response.status_code == 200
        assert response.content == b""
        assert response.headers["x-user-id"] == "4242"
        assert response.headers["x-token-jti"] == issued["jti"]
        assert response.headers["x-token-expires-at"] == issued["expires_at"]
        assert response.headers["cache-control"] == "no-store"
        assert "x-token-issuer" not in response.headers  # this deployment sets no issuer

    @pytest.mark.parametrize(
        ("jti", "sent"),
        [("a\r\nX-Evil: 1", "a%0D%0AX-Evil: 1"), ("é€", "%C3%A9%E2%82%AC"), ("100%", "100%25")],
    )
    async def test_an_unusual_signed_jti_is_percent_encoded_never_a_split_header(
        self, jti: str, sent: str
    ) -> None:
        container = in_memory_container(TOKEN_CHECK="not-blocked")
        now = int(time.time())
        token = container.codec().encode(Claims(TokenKey("", jti), 77, now, now + 600))
        async with AsyncTestClient(app=create_app(container)) as client:
            response = await client.get(VERIFY, headers=bearer(token))
        assert response.status_code == 200
        assert response.headers["x-token-jti"] == sent
        assert "x-evil" not in response.headers

    async def test_passes_the_issuer_when_tokens_carry_one(self) -> None:
        container = in_memory_container(JWT_ISSUER="auth.example")
        async with AsyncTestClient(app=create_app(container)) as client:
            issued = await issue(client)
            response = await client.get(VERIFY, headers=bearer(issued["token"]))
        assert response.headers["x-token-issuer"] == "auth.example"

    @pytest.mark.parametrize("method", METHODS)
    async def test_every_method_gets_the_same_check(self, client: Client, method: str) -> None:
        issued = await issue(client)
        live = await client.request(method, VERIFY, headers=bearer(issued["token"]))
        assert (live.status_code, live.headers["x-user-id"]) == (200, "4242")
        missing = await client.request(method, VERIFY)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == "Bearer"
        assert "x-user-id" not in missing.headers

    @pytest.mark.parametrize("logout", ["/api/v2/logout", "/api/v2/logout-all-device"])
    @pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
    async def test_a_revoked_token_gets_401(self, client: Client, logout: str, method: str) -> None:
        token = (await issue(client))["token"]
        assert (await client.post(logout, headers=bearer(token))).status_code == 200
        response = await client.request(method, VERIFY, headers=bearer(token))
        assert response.status_code == 401
        assert response.content == (b"" if method == "HEAD" else UNAUTHORIZED)
        assert response.headers["www-authenticate"] == "Bearer"
        assert "x-user-id" not in response.headers

    @pytest.mark.parametrize(
        "headers", [{}, {"Authorization": "Basic Zm9vOmJhcg=="}, {"Authorization": "Bearer x.y.z"}]
    )
    async def test_no_usable_token_gets_401(self, client: Client, headers: dict[str, str]) -> None:
        response = await client.get(VERIFY, headers={**headers, "X-User-Id": "1"})
        assert (response.status_code, response.content) == (401, UNAUTHORIZED)
        assert response.headers["www-authenticate"] == "Bearer"

    @pytest.mark.parametrize("method", ["GET", "DELETE", "OPTIONS"])
    async def test_answers_under_a_prefix_as_envoy_path_prefix_sends(
        self, client: Client, method: str
    ) -> None:
        token = (await issue(client))["token"]
        path = f"{VERIFY}/orders/12?page=2"  # Envoy appends the client's path to path_prefix
        live = await client.request(method, path, headers=bearer(token))
        assert (live.status_code, live.headers["x-user-id"]) == (200, "4242")
        assert (await client.request(method, path)).status_code == 401

    async def test_never_reads_the_body(self, client: Client) -> None:
        token = (await issue(client))["token"]
        oversized = b"{" * 100_000  # beyond MAX_BODY_BYTES, and not JSON either
        response = await client.post(VERIFY, headers=bearer(token), content=oversized)
        assert response.status_code == 200

    @pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
    async def test_answers_503_when_the_database_is_down(self, method: str) -> None:
        container = in_memory_container()
        container.token_log.override(providers.Object(DownTokenLog()))
        now = int(time.time())
        token = container.codec().encode(Claims(TokenKey("", "some-jti"), 7, now, now + 60))
        async with AsyncTestClient(app=create_app(container)) as client:
            response = await client.request(method, VERIFY, headers=bearer(token))
        assert response.status_code == 503
        if method != "HEAD":
            assert response.json() == {"title": "Service Unavailable"}
        assert "x-user-id" not in response.headers

    async def test_is_in_the_openapi_schema_with_its_security(self, client: Client) -> None:
        operations = (await client.get("/schema/openapi.json")).json()["paths"][VERIFY]
        assert {"get", "head"} <= set(operations)
        for operation in (operations["get"], operations["head"]):
            assert operation["security"] == [{"BearerToken": []}]
            assert {"200", "401", "503"} <= set(operation["responses"])
            assert "X-User-Id" in operation["responses"]["200"]["headers"]
