"""Library mode: another team's app (examples/library_app) refuses what the service revoked."""

from __future__ import annotations

import pytest
from dependency_injector import providers
from litestar import Litestar
from litestar.testing import AsyncTestClient

from examples.library_app.app import create_orders_app
from revocation.entrypoints.containers import Container
from tests.app_factory import in_memory_container
from tests.fakes import DownTokenLog
from tests.revocations import LOGOUT, LOGOUT_ALL

Client = AsyncTestClient[Litestar]
UNAUTHORIZED = {"title": "Unauthorized"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def issue(container: Container, user_id: int) -> str:
    return (await container.issue_token()(user_id=user_id)).token


class TestLibraryApp:
    async def test_a_token_issued_by_the_service_works_until_it_is_logged_out(self) -> None:
        container = in_memory_container()
        token = await issue(container, 77)
        async with AsyncTestClient(app=create_orders_app(container)) as client:
            orders = await client.get("/orders", headers=bearer(token))
            assert orders.status_code == 200
            assert orders.json()["user_id"] == 77
            await container.logout_token()(
                claims=container.codec().verify(token), revocation=LOGOUT
            )
            refused = await client.get("/orders", headers=bearer(token))
        assert (refused.status_code, refused.json()) == (401, UNAUTHORIZED)
        assert refused.headers["www-authenticate"] == "Bearer"

    async def test_logout_all_devices_refuses_every_token_of_the_user(self) -> None:
        container = in_memory_container()
        async with AsyncTestClient(app=create_orders_app(container)) as client:
            phone, laptop, other = [await issue(container, user) for user in (5, 5, 6)]
            await container.logout_all_devices()(user_id=5, revocation=LOGOUT_ALL)
            for token in (phone, laptop):
                assert (await client.get("/orders", headers=bearer(token))).status_code == 401
            assert (await client.get("/orders", headers=bearer(other))).status_code == 200

    @pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer a.b.c"}])
    async def test_no_usable_token_gets_401(self, headers: dict[str, str]) -> None:
        async with AsyncTestClient(app=create_orders_app(in_memory_container())) as client:
            response = await client.get("/orders", headers=headers)
        assert (response.status_code, response.json()) == (401, UNAUTHORIZED)

    async def test_public_paths_stay_open_and_the_apps_own_errors_stay_its_own(self) -> None:
        async with AsyncTestClient(app=create_orders_app(in_memory_container())) as client:
            assert (await client.get("/health")).status_code == 200
            missing = await client.get("/nope")
        assert missing.status_code == 404
        assert "title" not in missing.json()  # Litestar's own shape: the plugin maps only ours

    async def test_answers_503_when_the_database_is_down(self) -> None:
        container = in_memory_container()
        token = await issue(container, 9)
        container.token_log.override(providers.Object(DownTokenLog()))
        async with AsyncTestClient(app=create_orders_app(container)) as client:
            response = await client.get("/orders", headers=bearer(token))
        assert (response.status_code, response.json()) == (503, {"title": "Service Unavailable"})
