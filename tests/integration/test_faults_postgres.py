"""Postgres down under a live service, and at its start-up: 503s, never a 500, and recovery.

The service runs as a process on a throwaway cluster (never the shared one) and the shared
Redis; the cluster is stopped and started under it, and the same process must recover.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
import redis

from revocation.adapters.redis.client import KeyLayout, vouched
from tests.integration.service_calls import (
    UNAUTHORIZED,
    UNAVAILABLE,
    eventually,
    identity,
    issue,
    issue_token,
    logout,
    logout_all,
    token_key,
    verify,
)
from tests.integration.throwaway import ThrowawayPostgres, throwaway_postgres, throwaway_redis
from tests.live_server import REPO, SERVER_ENV, live_server
from tests.random_refs import random_user_id

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture(scope="module")
def cluster() -> Iterator[ThrowawayPostgres]:
    with throwaway_postgres() as server:
        yield server


@pytest.fixture
def fault_redis_url() -> Iterator[str]:
    """A Redis of the test's own: the mirror marker is one key per Redis."""
    with throwaway_redis() as server:
        yield server.url


def service_env(cluster: ThrowawayPostgres, redis_url: str) -> dict[str, str]:
    # The spec's flow, and no repair: it would put back the Redis entry one test deletes.
    return {
        "DATABASE_URL": cluster.url,
        "REDIS_URL": redis_url,
        "DATABASE_TIMEOUT_SECONDS": "2",
        "BLACKLIST_REPAIR_INTERVAL_SECONDS": "0",
        "REVOCATION_CACHE": "off",
    }


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, f"{response.status_code} {response.text}"
    assert response.json() == UNAVAILABLE


def test_postgres_down_fails_closed_and_recovers(
    cluster: ThrowawayPostgres, redis_url: str
) -> None:
    cluster.ensure_running()
    with (
        live_server(service_env(cluster, redis_url)) as server,
        httpx.Client(base_url=server.base_url, timeout=10) as client,
    ):
        revoked, valid, unmirrored = (issue_token(client, random_user_id()) for _ in range(3))
        for token in (revoked, unmirrored):
            assert logout(client, token).status_code == 200
        with redis.Redis.from_url(redis_url) as side_door:
            assert side_door.delete(token_key(unmirrored)) == 1  # as if Redis had lost it
        cluster.stop()
        try:
            assert logout(client, revoked).json() == UNAUTHORIZED  # Redis knows: still 401
            assert verify(client, revoked).status_code == 401
            assert_unavailable(verify(client, unmirrored))  # nobody can tell: never a 200
            assert_unavailable(verify(client, valid))
            assert_unavailable(logout(client, valid))
            assert_unavailable(logout_all(client, valid))
            assert_unavailable(issue(client, random_user_id()))
        finally:
            cluster.start()

        eventually(lambda: logout(client, valid).status_code != 503, "recovery", timeout=20)
        assert logout(client, valid).json() == UNAUTHORIZED  # the logout above went through
        assert issue(client, random_user_id()).status_code == 200


def test_postgres_down_while_redis_answers_alone(
    cluster: ThrowawayPostgres, fault_redis_url: str
) -> None:
    """REVOCATION_CACHE=local: Redis' complete mirror keeps known tokens working; never more."""
    cluster.ensure_running()
    env = {
        **service_env(cluster, fault_redis_url),
        "REVOCATION_CACHE": "local",
        "BLACKLIST_REPAIR_INTERVAL_SECONDS": "1",
    }
    with (
        live_server(env) as server,
        httpx.Client(base_url=server.base_url, timeout=10) as client,
        redis.Redis.from_url(fault_redis_url) as side_door,
    ):
        revoked, known, issued, unseen = (issue_token(client, random_user_id()) for _ in range(4))
        assert logout(client, revoked).status_code == 200
        assert verify(client, known).status_code == 200  # this process learns it is logged
        layout = KeyLayout()
        # As if another service had logged it: Redis does not know it is logged.
        side_door.delete(layout.logged_key(identity(unseen)[0]))
        markers = layout.markers(full=True)
        eventually(lambda: all(vouched(v) for v in side_door.mget(markers)), "a full repair")
        cluster.stop()
        try:
            assert verify(client, revoked).status_code == 401
            assert verify(client, known).status_code == 200  # nothing the log could add
            assert verify(client, issued).status_code == 200  # Redis knows it is logged
            assert_unavailable(verify(client, unseen))  # is it logged? only the log knows
            assert_unavailable(logout(client, known))
            assert_unavailable(logout_all(client, known))
            side_door.delete(*markers)  # what a Redis restart or flush does
            eventually(lambda: verify(client, known).status_code == 503, "the mirror distrusted")
        finally:
            cluster.start()

        eventually(lambda: logout(client, known).status_code != 503, "recovery", timeout=20)
        assert verify(client, known).json() == UNAUTHORIZED


def test_starts_while_postgres_is_down_and_serves_once_it_is_back(
    cluster: ThrowawayPostgres, redis_url: str
) -> None:
    env = service_env(cluster, redis_url)
    migrate = [sys.executable, "-m", "revocation.entrypoints.cli", "migrate"]
    subprocess.run(
        migrate, env={**os.environ, **SERVER_ENV, **env}, check=True, capture_output=True, cwd=REPO
    )
    cluster.stop()
    try:
        with (
            live_server(env, migrate=False) as server,
            httpx.Client(base_url=server.base_url, timeout=10) as client,
        ):
            assert_unavailable(issue(client, random_user_id()))
            cluster.start()

            eventually(lambda: issue(client, random_user_id()).status_code == 200, "recovery")
            assert logout(client, issue_token(client, random_user_id())).status_code == 200
    finally:
        cluster.ensure_running()
