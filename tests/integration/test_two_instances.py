"""Horizontal scale: two server processes on one Redis and one Postgres act as one service.

Each step goes through one instance and is checked on the other with the very next request:
no instance may keep state (a cache, a marker) that lets a revoked token live on elsewhere.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.service_calls import UNAUTHORIZED, issue_token, logout, logout_all
from tests.live_server import SERVER_ENV, live_server
from tests.random_refs import random_user_id

Pair = tuple[httpx.Client, httpx.Client]


@pytest.fixture(scope="module")
def instances(postgres_url: str, redis_url: str) -> Iterator[Pair]:
    """Two `revocation serve` processes, migrated once, sharing both stores."""
    env = {"DATABASE_URL": postgres_url, "REDIS_URL": redis_url, "LOG_LEVEL": "WARNING"}
    with contextlib.ExitStack() as stack:
        first = stack.enter_context(live_server(env))
        second = stack.enter_context(live_server(env, migrate=False))
        clients = [
            stack.enter_context(httpx.Client(base_url=server.base_url, timeout=10))
            for server in (first, second)
        ]
        yield clients[0], clients[1]


def lgt_all(client: httpx.Client, user_id: int) -> httpx.Response:
    credentials = {"app_id": SERVER_ENV["APP_ID"], "app_key": SERVER_ENV["APP_KEY"]}
    return client.post("/api/v2/lgt-all", json={"user_id": user_id, **credentials})


def refused(response: httpx.Response) -> bool:
    return response.status_code == 401 and response.json() == UNAUTHORIZED


class TestTwoInstances:
    def test_a_token_issued_by_one_is_accepted_by_the_other(self, instances: Pair) -> None:
        a, b = instances
        token = issue_token(a, random_user_id())
        assert b.get("/api/v2/auth/verify", headers={"Authorization": f"Bearer {token}"}).is_success
        assert logout(b, token).status_code == 200

    def test_a_logout_through_one_is_enforced_by_the_other_at_once(self, instances: Pair) -> None:
        a, b = instances
        token = issue_token(a, random_user_id())
        assert logout(b, "x").status_code == 401  # b has served a request before: warm
        assert logout(a, token).status_code == 200
        assert refused(logout(b, token))

    def test_a_logout_all_through_one_is_enforced_by_the_other_at_once(
        self, instances: Pair
    ) -> None:
        a, b = instances
        user_id = random_user_id()
        first, second = issue_token(a, user_id), issue_token(a, user_id)
        assert logout_all(b, first).status_code == 200
        assert refused(logout(a, second))

    def test_an_lgt_all_through_one_is_enforced_by_the_other_at_once(self, instances: Pair) -> None:
        a, b = instances
        user_id = random_user_id()
        before = [issue_token(a, user_id), issue_token(b, user_id)]
        assert lgt_all(a, user_id).status_code == 200
        assert [refused(logout(b, token)) for token in before] == [True, True]
        after = issue_token(a, user_id)  # a login after lgt-all returned works everywhere
        assert logout(b, after).status_code == 200
