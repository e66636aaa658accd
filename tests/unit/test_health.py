"""`/health/live` and `/health/ready`: public, and ready only when the database answers in time."""

from __future__ import annotations

import asyncio

from dependency_injector import providers
from litestar.testing import AsyncTestClient

from revocation.adapters.clock import SystemClock
from revocation.adapters.memory import InMemoryBlacklist
from revocation.domain.model import LogState, TokenKey
from revocation.entrypoints.app import create_app
from revocation.entrypoints.http.health import READY_TIMEOUT_SECONDS, ReadinessProbe
from tests.app_factory import in_memory_container
from tests.fakes import DownBlacklist, DownTokenLog


class HangingTokenLog(DownTokenLog):
    """A database that accepts the connection and never answers."""

    async def lookup(self, key: TokenKey, user_id: int) -> LogState:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")


async def get_ready(container_overrides: dict[str, object]) -> tuple[int, object]:
    container = in_memory_container()
    for name, adapter in container_overrides.items():
        getattr(container, name).override(providers.Object(adapter))
    async with AsyncTestClient(app=create_app(container)) as client:
        response = await client.get("/health/ready")
        return response.status_code, response.json()


class TestHealth:
    async def test_live_answers_without_a_token(self) -> None:
        async with AsyncTestClient(app=create_app(in_memory_container())) as client:
            response = await client.get("/health/live")
        assert (response.status_code, response.json()) == (200, {"status": "ok"})

    async def test_ready_when_both_stores_answer(self) -> None:
        assert await get_ready({}) == (
            200,
            {
                "status": "ready",
                "checks": {"database": "ok", "blacklist": "ok", "fast_path": "off"},
            },
        )

    async def test_ready_says_when_the_fast_layer_answers_alone(self) -> None:
        complete = InMemoryBlacklist(SystemClock(), complete=True)
        status, body = await get_ready({"blacklist": complete})
        assert (status, body["checks"]["fast_path"]) == (200, "on")  # type: ignore[index]

    async def test_not_ready_when_the_database_is_down(self) -> None:
        assert await get_ready({"token_log": DownTokenLog()}) == (
            503,
            {
                "title": "Service Unavailable",
                "checks": {"database": "unavailable", "blacklist": "ok", "fast_path": "off"},
            },
        )

    async def test_degraded_but_ready_when_only_redis_is_down(self) -> None:
        # Every check falls back to the database: taking all instances out of the load
        # balancer because Redis failed would turn a slowdown into an outage.
        assert await get_ready({"blacklist": DownBlacklist()}) == (
            200,
            {
                "status": "degraded",
                "checks": {"database": "ok", "blacklist": "unavailable", "fast_path": "off"},
            },
        )

    async def test_a_hanging_database_is_unavailable_within_the_timeout(self) -> None:
        probe = ReadinessProbe(
            token_log=HangingTokenLog,
            blacklist=lambda: InMemoryBlacklist(SystemClock()),
            timeout_seconds=0.05,
        )
        started = asyncio.get_running_loop().time()
        async with asyncio.timeout(5):  # fails rather than hangs if the probe never gives up
            checks = await probe()
        assert checks == {"database": "unavailable", "blacklist": "ok", "fast_path": "off"}
        assert asyncio.get_running_loop().time() - started < 1.0

    def test_the_app_gives_each_probe_a_short_timeout(self) -> None:
        assert 0 < READY_TIMEOUT_SECONDS <= 2
