"""Session-wide real servers for the integration tests (see servers.py for where they come from)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio.cluster import RedisCluster

from revocation.adapters.redis.client import build_redis_client
from tests.integration.redis_cluster import three_master_cluster
from tests.integration.servers import (
    POSTGRES_URL_VAR,
    REDIS_URL_VAR,
    postgres_container,
    redis_container,
    redis_options,
    server_url,
)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with server_url(POSTGRES_URL_VAR, postgres_container) as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with server_url(REDIS_URL_VAR, redis_container) as url:
        yield url


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A URL naming one node of a private three-master Redis Cluster (stopped after the run)."""
    with three_master_cluster(tmp_path_factory.mktemp("redis-cluster")) as cluster:
        yield cluster.url


@pytest.fixture
async def redis_cluster_client(redis_cluster_url: str) -> AsyncIterator[RedisCluster]:
    """A cluster client for one test, closed after it."""
    client = build_redis_client(redis_cluster_url, redis_options(2), cluster=True)
    assert isinstance(client, RedisCluster)
    yield client
    await client.aclose()
