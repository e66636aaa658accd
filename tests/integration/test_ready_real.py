"""`/health/ready` on the real adapters: Postgres and Redis up, Redis down, Postgres down."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from revocation.entrypoints.app import create_app
from revocation.entrypoints.containers import Container
from revocation.entrypoints.settings import Settings
from tests.app_factory import TEST_ENV
from tests.live_server import free_port


async def ready(database_url: str, redis_url: str) -> tuple[int, object]:
    env = {**TEST_ENV, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
    app = create_app(Container(settings=Settings.from_env(env)))
    async with AsyncTestClient(app=app) as client:
        response = await client.get("/health/ready")
    return response.status_code, response.json()


def closed_port_url(scheme: str, path: str) -> str:
    """A loopback URL where nothing listens: connection refused at once."""
    return f"{scheme}://postgres@127.0.0.1:{free_port()}{path}"


class TestReadyOnRealServers:
    async def test_ready_when_postgres_and_redis_answer(
        self, postgres_url: str, redis_url: str
    ) -> None:
        status, body = await ready(postgres_url, redis_url)
        checks = body["checks"]  # type: ignore[index]
        # fast_path: "on" once a repair and the tracking connection are done, a moment later
        assert (status, body["status"], checks["database"], checks["blacklist"]) == (  # type: ignore[index]
            200,
            "ready",
            "ok",
            "ok",
        )

    async def test_degraded_when_redis_does_not_answer(self, postgres_url: str) -> None:
        status, body = await ready(postgres_url, f"redis://127.0.0.1:{free_port()}/0")
        assert (status, body) == (
            200,
            {
                "status": "degraded",
                "checks": {"database": "ok", "blacklist": "unavailable", "fast_path": "off"},
            },
        )

    async def test_not_ready_when_postgres_does_not_answer(self, redis_url: str) -> None:
        status, body = await ready(closed_port_url("postgresql", "/test"), redis_url)
        assert (status, body["title"]) == (503, "Service Unavailable")  # type: ignore[index]
        checks = body["checks"]  # type: ignore[index]
        assert (checks["database"], checks["blacklist"]) == ("unavailable", "ok")
