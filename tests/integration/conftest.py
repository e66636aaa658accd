"""Session-wide real servers for the integration tests (see servers.py for where they come from)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.redis_cluster import three_master_cluster
from tests.integration.servers import (
    POSTGRES_URL_VAR,
    REDIS_URL_VAR,
    postgres_container,
    redis_container,
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
