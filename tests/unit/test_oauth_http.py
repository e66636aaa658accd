"""The OAuth endpoints' HTTP answers (RFC 7662, 7009, 8414), on in-memory adapters."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator

import pytest
from dependency_injector import providers
from litestar import Litestar
from litestar.testing import AsyncTestClient

from revocation.domain.errors import InvalidDevice, RevocationError
from revocation.domain.model import Claims, TokenKey
from revocation.entrypoints.app import create_app
from revocation.entrypoints.http.oauth_answers import OAUTH_EXCEPTION_HANDLERS, OAuthError
from tests.app_factory import TEST_ENV, in_memory_container
from tests.fakes import DownTokenLog

Client = AsyncTestClient[Litestar]
BASIC = (TEST_ENV["APP_ID"], TEST_ENV["APP_KEY"])
POSTED = {"client_id": TEST_ENV["APP_ID"], "client_secret": TEST_ENV["APP_KEY"]}
INVALID_CLIENT = {"error": "invalid_client"}


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(in_memory_container())) as test_client:
        yield test_client


async def issue(client: Client, user_id: int = 4242) -> str:
    body = {"user_id": user_id, "app_id": BASIC[0], "app_key": BASIC[1]}
    response = await client.post("/api/v2/internal/tokens", json=body)
    return str(response.json()["token"])


def basic(client_id: str, secret: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


LITESTAR_ROUTE = "answered by Litestar's route"


class TestIntrospection:
    """Every answer twice: from the door before Litestar (a plain form, as resource servers
    send it), and from Litestar's route (which a browser's request, with an Origin, reaches)."""

    @pytest.fixture(params=["answered before Litestar", LITESTAR_ROUTE])
    async def client(self, request: pytest.FixtureRequest) -> AsyncIterator[Client]:
        async with AsyncTestClient(app=create_app(in_memory_container())) as test_client:
            if request.param == LITESTAR_ROUTE:
                test_client.headers["Origin"] = "https://app.example"
            yield test_client

    async def test_a_live_token_answers_active_with_its_claims(self, client: Client) -> None:
        token = await issue(client)
        response = await client.post("/oauth/introspect", data={"token": token}, auth=BASIC)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        assert body.pop("exp") - body.pop("iat") == 3600
        assert body.pop("jti")
        assert body == {"active": True, "sub": "4242", "token_type": "Bearer"}

    async def test_client_secret_post_works_too(self, client: Client) -> None:
        token = await issue(client)
        response = await client.post("/oauth/introspect", data={"token": token, **POSTED})
        assert response.json()["active"] is True

    async def test_after_logout_the_answer_is_only_inactive(self, client: Client) -> None:
        token = await issue(client)
        await client.post("/api/v2/logout", headers={"Authorization": f"Bearer {token}"})
        response = await client.post("/oauth/introspect", data={"token": token}, auth=BASIC)
        assert (response.status_code, response.content) == (200, b'{"active":false}')

    @pytest.mark.parametrize(
        "headers",
        [
            {},
            basic(BASIC[0], "wrong"),
            basic("", ""),
            {"Authorization": "Basic !!!not-base64"},
            {"Authorization": "Bearer x"},
        ],
    )
    async def test_a_bad_client_is_invalid_client_with_a_basic_challenge(
        self, client: Client, headers: dict[str, str]
    ) -> None:
        response = await client.post("/oauth/introspect", data={"token": "t"}, headers=headers)
        assert (response.status_code, response.json()) == (401, INVALID_CLIENT)
        assert response.headers["www-authenticate"] == "Basic"

    async def test_basic_parts_are_form_urlencoded(self, client: Client) -> None:
        """RFC 6749 2.3.1: `laravel%2Dapp` is `laravel-app`."""
        encoded_id = BASIC[0].replace("-", "%2D")
        response = await client.post(
            "/oauth/introspect", data={"token": "t"}, headers=basic(encoded_id, BASIC[1])
        )
        assert response.json() == {"active": False}

    @pytest.mark.parametrize(
        ("data", "auth"),
        [({}, BASIC), ({"token": "t", **POSTED}, BASIC), ({"token": ["a", "b"]}, BASIC)],
    )
    async def test_malformed_requests_are_invalid_request(
        self, client: Client, data: dict[str, object], auth: tuple[str, str]
    ) -> None:
        response = await client.post("/oauth/introspect", data=data, auth=auth)
        assert (response.status_code, response.json()) == (400, {"error": "invalid_request"})

    async def test_a_body_over_the_limit_is_an_invalid_request(self, client: Client) -> None:
        big = "a" * 20_000  # over MAX_BODY_BYTES
        response = await client.post("/oauth/introspect", data={"token": big}, auth=BASIC)
        assert (response.status_code, response.json()) == (413, {"error": "invalid_request"})
        assert response.headers["cache-control"] == "no-store"

    async def test_a_guessing_client_is_throttled_with_retry_after(self, client: Client) -> None:
        for _ in range(3):  # LGT_ALL_MAX_FAILURES in the test settings
            await client.post(
                "/oauth/introspect", data={"token": "t", **POSTED, "client_secret": "x"}
            )
        throttled = await client.post("/oauth/introspect", data={"token": "t"}, auth=BASIC)
        assert (throttled.status_code, throttled.json()) == (401, INVALID_CLIENT)
        assert int(throttled.headers["retry-after"]) > 0


class TestRevocation:
    async def test_revoked_token_is_refused_everywhere(self, client: Client) -> None:
        token = await issue(client)
        response = await client.post("/oauth/revoke", data={"token": token}, auth=BASIC)
        assert (response.status_code, response.content) == (200, b"")
        verify = await client.get(
            "/api/v2/auth/verify", headers={"Authorization": f"Bearer {token}"}
        )
        assert verify.status_code == 401

    async def test_an_unknown_token_is_200(self, client: Client) -> None:
        response = await client.post("/oauth/revoke", data={"token": "junk", **POSTED})
        assert response.status_code == 200

    async def test_a_bad_client_is_refused(self, client: Client) -> None:
        token = await issue(client)
        response = await client.post("/oauth/revoke", data={"token": token})
        assert (response.status_code, response.json()) == (401, INVALID_CLIENT)
        verify = await client.get(
            "/api/v2/auth/verify", headers={"Authorization": f"Bearer {token}"}
        )
        assert verify.status_code == 200


class TestMetadata:
    async def test_names_both_endpoints_and_no_keys_with_hmac(self, client: Client) -> None:
        body = (await client.get("/.well-known/oauth-authorization-server")).json()
        assert body["introspection_endpoint"] == f"{body['issuer']}/oauth/introspect"
        assert body["revocation_endpoint"] == f"{body['issuer']}/oauth/revoke"
        methods = ["client_secret_basic", "client_secret_post"]
        assert body["introspection_endpoint_auth_methods_supported"] == methods
        assert body["revocation_endpoint_auth_methods_supported"] == methods
        assert "jwks_uri" not in body


async def test_a_database_that_cannot_answer_is_503_temporarily_unavailable() -> None:
    container = in_memory_container()
    container.token_log.override(providers.Object(DownTokenLog()))
    async with AsyncTestClient(app=create_app(container)) as client:
        now = int(time.time())
        token = container.codec().encode(Claims(TokenKey("", "jti-x"), 1, now, now + 60))
        for path in ("/oauth/introspect", "/oauth/revoke"):
            response = await client.post(path, data={"token": token}, auth=BASIC)
            assert (response.status_code, response.json()) == (
                503,
                {"error": "temporarily_unavailable"},
            )


def test_a_refusal_the_table_does_not_name_is_an_invalid_request_never_a_500() -> None:
    answer = OAUTH_EXCEPTION_HANDLERS[RevocationError](None, InvalidDevice("any"))  # type: ignore[arg-type]

    assert (answer.status_code, answer.content) == (400, OAuthError("invalid_request"))
