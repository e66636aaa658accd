"""An orders API that refuses revoked tokens by mounting the revocation middleware.

Run it beside the revocation service, on the same database and Redis and with the same JWT
settings (the environment variables the service reads):

    uvicorn --factory examples.library_app.app:app_from_env --port 9000
"""

from __future__ import annotations

import os
from typing import Any

import msgspec
from litestar import Litestar, Request, get

from revocation.domain.model import Claims
from revocation.entrypoints.containers import Container
from revocation.entrypoints.library import RevocationPlugin
from revocation.entrypoints.settings import Settings


class Order(msgspec.Struct, frozen=True):
    id: int
    item: str


class Orders(msgspec.Struct, frozen=True):
    user_id: int
    orders: list[Order]


@get("/orders")
async def list_orders(request: Request[Claims, Claims, Any]) -> Orders:
    """The caller's orders: `request.user` is the verified, unrevoked token's claims."""
    return Orders(user_id=request.user.user_id, orders=[Order(id=1, item="coffee beans")])


@get("/health")
async def health() -> dict[str, str]:
    """Public: listed in `public_paths` below."""
    return {"status": "ok"}


def create_orders_app(container: Container) -> Litestar:
    """Our own routes; the plugin adds the check, its 401/503 answers and the pools' lifespan."""
    return Litestar(
        route_handlers=[list_orders, health],
        plugins=[RevocationPlugin(container, public_paths=[r"^/health$"])],
    )


def app_from_env() -> Litestar:
    """Redis and Postgres (or SQLite) from DATABASE_URL and REDIS_URL, as the service reads them."""
    return create_orders_app(Container(settings=Settings.from_env(os.environ)))
