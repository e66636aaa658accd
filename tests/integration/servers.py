"""Where the real Postgres and Redis for integration tests come from.

In order: a URL from the environment (CI and this repo's machines have local servers), else a
throwaway container via testcontainers where Docker runs (a laptop), else skip with the reason.
Under CI=true a missing server fails the run: integration tests never silently skip there.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator

import pytest

from revocation.adapters.redis.client import RedisOptions

POSTGRES_URL_VAR = "TEST_POSTGRES_URL"
REDIS_URL_VAR = "TEST_REDIS_URL"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> None:
    """Fail under CI, skip elsewhere."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: integration tests must not skip)", pytrace=False)
    pytest.skip(reason)


_DOCKER_SOCKET = "/var/run/docker.sock"  # docker-py's default when DOCKER_HOST is unset


def docker_available() -> bool:
    if not os.environ.get("DOCKER_HOST") and not os.path.exists(_DOCKER_SOCKET):
        # No engine to ask: docker-py's failed connect to a missing socket leaves it unclosed
        # (a ResourceWarning, an error under our pytest), so it is not asked at all.
        return False
    try:
        import docker

        client = docker.from_env()
    except Exception:
        return False
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()  # an unclosed socket is a ResourceWarning, an error under our pytest


@contextlib.contextmanager
def server_url(
    variable: str, start_container: Callable[[], contextlib.AbstractContextManager[str]]
) -> Iterator[str]:
    """The URL of a real server: from `variable`, else a container, else skip (fail in CI)."""
    if url := os.environ.get(variable):
        yield url
        return
    if not docker_available():
        unavailable(f"set {variable} or run Docker for testcontainers")
    with start_container() as url:
        yield url


@contextlib.contextmanager
def postgres_container() -> Iterator[str]:
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:16-alpine", driver=None) as container:
        yield container.get_connection_url()


@contextlib.contextmanager
def redis_container() -> Iterator[str]:
    from testcontainers.redis import RedisContainer

    with RedisContainer("redis:7-alpine") as container:
        host = container.get_container_host_ip()
        yield f"redis://{host}:{container.get_exposed_port(6379)}/0"


def redis_options(socket_timeout: float, *, connect_timeout: float | None = None) -> RedisOptions:
    """A test client's Redis options: timeouts as given, a pool a test never exhausts."""
    return RedisOptions(
        socket_timeout=socket_timeout,
        connect_timeout=socket_timeout if connect_timeout is None else connect_timeout,
        max_connections=256,
        pool_timeout=5,
    )
