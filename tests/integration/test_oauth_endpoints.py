"""Authlib, a real OAuth client library, against `revocation serve` on Postgres and Redis:
RFC 7009 revocation and RFC 7662 introspection as any OAuth client calls them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from authlib.integrations.requests_client import OAuth2Session

from tests.integration.service_calls import identity, issue_token, logout_all
from tests.integration.token_logs import fetch_column
from tests.live_server import SERVER_ENV, LiveServer, live_server
from tests.random_refs import random_user_id

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

APP_ID, APP_KEY = SERVER_ENV["APP_ID"], SERVER_ENV["APP_KEY"]


@pytest.fixture(scope="module")
def server(postgres_url: str, redis_url: str) -> Iterator[LiveServer]:
    with live_server({"DATABASE_URL": postgres_url, "REDIS_URL": redis_url}) as running:
        yield running


@pytest.fixture
def service(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url) as client:
        yield client


@pytest.fixture
def metadata(service: httpx.Client) -> dict[str, Any]:
    document: dict[str, Any] = service.get("/.well-known/oauth-authorization-server").json()
    return document


def oauth_client(method: str, secret: str = APP_KEY) -> OAuth2Session:
    """Authlib's client, authenticating as the trusted service by `method` (RFC 6749 2.3.1).
    Its requests flavour: Authlib deprecates its httpx one."""
    return OAuth2Session(
        client_id=APP_ID,
        client_secret=secret,
        token_endpoint_auth_method=method,
        revocation_endpoint_auth_method=method,
    )


def introspect(metadata: dict[str, Any], token: str, method: str = "client_secret_basic") -> Any:
    with oauth_client(method) as client:
        response = client.introspect_token(metadata["introspection_endpoint"], token=token)
    assert response.status_code == 200, response.text
    return response.json()


def blocked_in_log(postgres_url: str, token: str) -> bool:
    """The durable block, read through a side door (raw SQL)."""
    key, _ = identity(token)
    sql = f"SELECT blocked_at IS NOT NULL FROM user_token_logs WHERE jti = '{key.jti}'"  # noqa: S608 - our own random jti
    return asyncio.run(fetch_column(postgres_url, sql)) == [True]


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_authlib_introspects_then_revokes_a_token(
    service: httpx.Client, metadata: dict[str, Any], postgres_url: str, method: str
) -> None:
    user_id = random_user_id()
    token = issue_token(service, user_id)
    active = introspect(metadata, token, method)
    assert active["active"] is True
    assert (active["sub"], active["iss"], active["token_type"]) == (
        str(user_id),
        SERVER_ENV["JWT_ISSUER"],
        "Bearer",
    )
    assert active["jti"] == identity(token)[0].jti
    with oauth_client(method) as client:
        revoked = client.revoke_token(
            metadata["revocation_endpoint"], token=token, token_type_hint="access_token"
        )
    assert revoked.status_code == 200, revoked.text
    assert blocked_in_log(postgres_url, token)  # durable first, as logout
    assert service.get("/api/v2/auth/verify", headers=bearer(token)).status_code == 401
    assert introspect(metadata, token, method) == {"active": False}


def test_every_revocation_path_reads_inactive(
    service: httpx.Client, metadata: dict[str, Any]
) -> None:
    user_id = random_user_id()
    by_logout, by_all_device, by_lgt_all = (issue_token(service, user_id) for _ in range(3))
    other = issue_token(service, random_user_id())
    service.post("/api/v2/logout", headers=bearer(by_logout)).raise_for_status()
    assert introspect(metadata, by_logout) == {"active": False}
    logout_all(service, by_all_device).raise_for_status()
    assert introspect(metadata, by_all_device) == {"active": False}
    assert introspect(metadata, other)["active"] is True
    later = issue_token(service, user_id)
    body = {"user_id": str(user_id), "app_id": APP_ID, "app_key": APP_KEY}
    service.post("/api/v2/lgt-all", json=body).raise_for_status()
    assert introspect(metadata, by_lgt_all) == {"active": False}
    assert introspect(metadata, later) == {"active": False}


def test_a_wrong_secret_is_invalid_client_and_revokes_nothing(
    service: httpx.Client, metadata: dict[str, Any]
) -> None:
    token = issue_token(service, random_user_id())
    with oauth_client("client_secret_basic", secret="wrong") as client:
        response = client.revoke_token(metadata["revocation_endpoint"], token=token)
        introspected = client.introspect_token(metadata["introspection_endpoint"], token=token)
    for refused in (response, introspected):
        assert (refused.status_code, refused.json()) == (401, {"error": "invalid_client"})
        assert refused.headers["www-authenticate"] == "Basic"
    assert introspect(metadata, token)["active"] is True


def test_revoking_an_unknown_token_is_200(metadata: dict[str, Any]) -> None:
    with oauth_client("client_secret_basic") as client:
        response = client.revoke_token(metadata["revocation_endpoint"], token="not-a-token")
    assert response.status_code == 200


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_resource_server_introspecting_in_bursts_is_served_every_time(
    postgres_url: str, redis_url: str
) -> None:
    """The brake on, as deployed, through the server's own Redis: each burst reserves, keeps
    and gives back the client's reservations (a kept one lives half a second), and a client
    whose key is right is never refused, however many of its calls come at once. (The race
    that once lost kept reservations under wrk is shown by the brake's contract tests.)"""
    env = {"DATABASE_URL": postgres_url, "REDIS_URL": redis_url, "LGT_ALL_MAX_FAILURES": "5"}
    env["TRUSTED_PROXIES"] = "127.0.0.1"  # the gateway's own address: a window of its own
    gateway = {"X-Forwarded-For": f"2001:db8::{random_user_id() % 65536:x}"}
    with live_server(env) as running, httpx.Client(base_url=running.base_url) as service:
        token = issue_token(service, random_user_id())

        async def bursts() -> list[int]:
            statuses = []
            async with httpx.AsyncClient(
                base_url=running.base_url, auth=(APP_ID, APP_KEY), headers=gateway
            ) as client:
                for _ in range(4):
                    calls = [
                        client.post("/oauth/introspect", data={"token": token}) for _ in range(40)
                    ]
                    statuses += [answer.status_code for answer in await asyncio.gather(*calls)]
                    await asyncio.sleep(0.7)  # the kept reservation given back meanwhile
            return statuses

        assert asyncio.run(bursts()) == [200] * 160
