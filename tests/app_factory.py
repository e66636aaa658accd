"""Build the real app on in-memory adapters in one line: what a user's own tests do."""

from __future__ import annotations

from collections.abc import Mapping

from litestar import Litestar

from revocation.entrypoints.app import create_app
from revocation.entrypoints.containers import Container
from revocation.entrypoints.settings import Settings

TEST_ENV = {
    "JWT_SECRET": "http-test-secret-that-is-long-enough-for-hs256",
    "APP_ID": "laravel-app",
    "APP_KEY": "laravel-secret-key",
    "LGT_ALL_MAX_FAILURES": "3",
}


def in_memory_container(**env: str) -> Container:
    return Container(settings=Settings.from_env({**TEST_ENV, **env}), in_memory=True)


def in_memory_app(env: Mapping[str, str] | None = None) -> tuple[Litestar, Container]:
    container = in_memory_container(**(env or {}))
    return create_app(container), container
