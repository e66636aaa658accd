"""Library mode for real: the orders app and the service share Postgres and Redis."""

from __future__ import annotations

import httpx
import pytest
from litestar.testing import AsyncTestClient

from examples.library_app.app import create_orders_app
from revocation.entrypoints.containers import Container
from revocation.entrypoints.settings import Settings
from tests.live_server import SERVER_ENV, live_server
from tests.random_refs import random_user_id

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

CREDENTIALS = {"app_id": SERVER_ENV["APP_ID"], "app_key": SERVER_ENV["APP_KEY"]}


async def test_the_orders_app_refuses_what_the_service_revoked(
    postgres_url: str, redis_url: str
) -> None:
    stores = {"DATABASE_URL": postgres_url, "REDIS_URL": redis_url}
    orders_app = create_orders_app(Container(settings=Settings.from_env({**SERVER_ENV, **stores})))
    user_id = random_user_id()
    with live_server(stores) as service:
        async with (
            httpx.AsyncClient(base_url=service.base_url) as api,
            AsyncTestClient(app=orders_app) as orders,
        ):

            async def issue() -> dict[str, str]:
                body = {"user_id": user_id, **CREDENTIALS}
                response = await api.post("/api/v2/internal/tokens", json=body)
                return {"Authorization": f"Bearer {response.json()['token']}"}

            one, two = await issue(), await issue()
            assert (await orders.get("/orders", headers=one)).json()["user_id"] == user_id
            assert (await api.post("/api/v2/logout", headers=one)).status_code == 200
            refused = await orders.get("/orders", headers=one)
            assert (refused.status_code, refused.json()) == (401, {"title": "Unauthorized"})

            assert (await orders.get("/orders", headers=two)).status_code == 200
            lgt_all = await api.post("/api/v2/lgt-all", json={"user_id": user_id, **CREDENTIALS})
            assert lgt_all.status_code == 200
            assert (await orders.get("/orders", headers=two)).status_code == 401
