"""Sessions through the real service process on Postgres, with Redis or a Redis Cluster."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from revocation.adapters.redis.client import KeyLayout, build_redis_client
from revocation.domain.model import TokenKey
from tests.integration.servers import redis_options
from tests.integration.token_logs import fetch_column
from tests.live_server import LiveServer, live_server
from tests.random_refs import random_user_id

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture(params=["redis_url", "redis_cluster_url"], scope="module")
def service(request: pytest.FixtureRequest, postgres_url: str) -> Iterator[LiveServer]:
    env = {"DATABASE_URL": postgres_url, "REDIS_URL": request.getfixturevalue(request.param)}
    if request.param == "redis_cluster_url":
        env["REDIS_CLUSTER"] = "true"
    with live_server(env) as server:
        # Until Redis answers alone, a revocation's Redis write is not done (503): a Cluster's
        # primaries are confirmed a moment after start.
        deadline = time.monotonic() + 30
        while httpx.get(f"{server.base_url}/health/ready").json()["checks"]["fast_path"] != "on":
            assert time.monotonic() < deadline, "the fast path never came on"
            time.sleep(0.1)
        yield server


async def issue(http: httpx.AsyncClient, service: LiveServer, user_id: int) -> dict[str, str]:
    credentials = {"app_id": service.env["APP_ID"], "app_key": service.env["APP_KEY"]}
    body = {"user_id": user_id, "device": f"device {user_id % 1000}", **credentials}
    response = await http.post("/internal/tokens", json=body)
    assert response.status_code == 200, response.text
    issued: dict[str, str] = response.json()
    return issued


def bearer(issued: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {issued['token']}"}


async def test_revoking_a_session_blocks_it_in_postgres_and_redis(service: LiveServer) -> None:
    user = random_user_id()
    async with httpx.AsyncClient(base_url=f"{service.base_url}/api/v2") as http:
        laptop, phone = await issue(http, service, user), await issue(http, service, user)
        stranger = await issue(http, service, random_user_id())
        listed = (await http.get("/sessions", headers=bearer(laptop))).json()["sessions"]
        assert [s["current"] for s in listed] == [False, True]  # newest (the phone) first
        phone_id = listed[0]["id"]
        foreign = await http.delete(f"/sessions/{phone_id}", headers=bearer(stranger))
        assert (foreign.status_code, foreign.json()) == (404, {"title": "Not Found"})

        revoked = await http.delete(f"/sessions/{phone_id}", headers=bearer(laptop))

        assert (revoked.status_code, revoked.json()) == (200, {"message": "Session Revoked."})
        assert (await http.post("/logout", headers=bearer(phone))).status_code == 401
        left = (await http.get("/sessions", headers=bearer(laptop))).json()["sessions"]
        assert [s["id"] for s in left] == [listed[1]["id"]]
    assert await blocked_in_postgres(service, phone["jti"]) == [True]
    assert await blocked_in_redis(service, TokenKey("live-tests", phone["jti"]), user)


async def blocked_in_postgres(service: LiveServer, jti: str) -> list[bool]:
    sql = f"SELECT blocked_at IS NOT NULL FROM user_token_logs WHERE jti = '{jti}'"  # noqa: S608
    return await fetch_column(service.env["DATABASE_URL"], sql)


async def blocked_in_redis(service: LiveServer, key: TokenKey, user_id: int) -> bool:
    client = build_redis_client(
        service.env["REDIS_URL"],
        redis_options(2),
        cluster=service.env.get("REDIS_CLUSTER") == "true",
    )
    try:
        return int(await client.ttl(KeyLayout().token_key(key))) > 0
    finally:
        await client.aclose()
