"""`GET /metrics`: what requests and the use cases did, as Prometheus text, per app."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest
from dependency_injector import providers
from litestar import Litestar
from litestar.testing import AsyncTestClient

from revocation.adapters.telemetry import RecordingTelemetry
from revocation.entrypoints.app import create_app
from tests.app_factory import TEST_ENV, in_memory_container

Client = AsyncTestClient[Litestar]
CREDENTIALS = {"app_id": TEST_ENV["APP_ID"], "app_key": TEST_ENV["APP_KEY"]}


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(in_memory_container())) as test_client:
        yield test_client


async def issue(client: Client, user_id: int) -> str:
    response = await client.post(
        "/api/v2/internal/tokens", json={"user_id": user_id, **CREDENTIALS}
    )
    return str(response.json()["token"])


async def metric(client: Client, name: str, **labels: str) -> float:
    """One sample's value from /metrics (0 when the series does not exist yet)."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in response.text.splitlines():
        found = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if found and found[1] == name and ",".join(sorted((found[2] or "").split(","))) == wanted:
            return float(found[3])
    return 0.0


async def requests(client: Client, method: str, route: str, status: str) -> float:
    name = "revocation_http_requests_total"
    return await metric(client, name, method=method, route=route, status=status)


class TestMetrics:
    async def test_requests_are_counted_by_route_template_and_status(self, client: Client) -> None:
        token = await issue(client, 7)
        await client.post("/api/v2/logout", headers={"Authorization": f"Bearer {token}"})
        await client.post("/api/v2/logout", headers={"Authorization": f"Bearer {token}"})
        await client.get("/no/such/page/12345")
        await client.request("BREW", "/no/such/pot")
        assert await requests(client, "POST", "/api/v2/logout", "200") == 1
        assert await requests(client, "POST", "/api/v2/logout", "401") == 1
        assert await requests(client, "GET", "unmatched", "404") == 1  # never the raw path
        assert "BREW" not in (await client.get("/metrics")).text

    async def test_revocations_rejections_and_logout_all_sizes(self, client: Client) -> None:
        tokens = [await issue(client, 8) for _ in range(3)]
        await client.post("/api/v2/logout", headers={"Authorization": f"Bearer {tokens[0]}"})
        await client.post("/api/v2/lgt-all", json={"user_id": 8, **CREDENTIALS})
        await client.post("/api/v2/logout", headers={"Authorization": f"Bearer {tokens[1]}"})
        await client.post("/api/v2/logout", headers={"Authorization": "Bearer x.y.z"})
        assert await metric(client, "revocation_tokens_revoked_total", scope="token") == 1
        # Rows may be blocked after lgt-all's response (a background step): wait for the count.
        for _ in range(100):
            if await metric(client, "revocation_tokens_revoked_total", scope="user") == 2:
                break
            await asyncio.sleep(0.02)
        assert await metric(client, "revocation_tokens_revoked_total", scope="user") == 2
        assert await metric(client, "revocation_logout_all_tokens_sum") == 2
        assert await metric(client, "revocation_logout_all_tokens_bucket", le="1.0") == 0
        assert await metric(client, "revocation_logout_all_tokens_bucket", le="2.0") == 1
        assert await metric(client, "revocation_token_rejections_total", reason="revoked") == 1
        assert await metric(client, "revocation_token_rejections_total", reason="invalid") == 1

    async def test_every_token_check_is_timed(self, client: Client) -> None:
        token = await issue(client, 9)
        await client.post("/api/v2/logout", headers={"Authorization": f"Bearer {token}"})
        await client.post("/api/v2/logout", headers={"Authorization": "Bearer nope"})
        assert await metric(client, "revocation_token_check_duration_seconds_count") == 2

    async def test_internal_auth_failures_are_counted_without_the_peer(
        self, client: Client
    ) -> None:
        await client.post("/api/v2/lgt-all", json={"user_id": 1, "app_id": "a", "app_key": "b"})
        failures = "revocation_internal_auth_failures_total"
        assert await metric(client, failures, throttled="false") == 1
        assert "peer=" not in (await client.get("/metrics")).text

    async def test_each_app_has_its_own_registry(self, client: Client) -> None:
        await issue(client, 10)
        async with AsyncTestClient(app=create_app(in_memory_container())) as other:
            assert await requests(other, "POST", "/api/v2/internal/tokens", "200") == 0
        assert await requests(client, "POST", "/api/v2/internal/tokens", "200") == 1

    async def test_metrics_can_be_turned_off(self) -> None:
        app = create_app(in_memory_container(METRICS_ENABLED="false"))
        async with AsyncTestClient(app=app) as client:
            response = await client.get("/metrics")
        assert response.status_code == 404

    async def test_overriding_telemetry_keeps_the_metrics_endpoint(self) -> None:
        container = in_memory_container()
        recorder = RecordingTelemetry()
        container.telemetry.override(providers.Object(recorder))
        async with AsyncTestClient(app=create_app(container)) as client:
            await client.post("/api/v2/logout", headers={"Authorization": "Bearer x"})
            assert await requests(client, "POST", "/api/v2/logout", "401") == 1
        assert recorder.names() == ["token_rejected"]
