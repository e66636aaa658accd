"""Fixtures for testing an app that uses this service, registered with pytest (`pytest11`):
the real app on the in-memory adapters, a clock the test moves, a token factory."""

from __future__ import annotations

import time
from collections.abc import Mapping

import pytest
from dependency_injector import providers
from litestar import Litestar

from revocation.adapters.clock import ManualClock
from revocation.entrypoints.app import create_app
from revocation.entrypoints.containers import Container
from revocation.entrypoints.settings import Settings

# Labelled test values: secrets no deployment has.
TEST_SETTINGS: Mapping[str, str] = {
    "JWT_SECRET": "pytest-plugin-secret-for-tests-only-never-deploy",
    "APP_ID": "test-app",
    "APP_KEY": "test-app-key-for-tests-only",
    "JWT_ISSUER": "tests",
}


class TokenFactory:
    """Issues (and logs) a token as the service does: `await revocation_token(user_id=42)`."""

    def __init__(self, container: Container) -> None:
        self._container = container

    async def __call__(self, *, user_id: int = 1, device: str | None = None) -> str:
        issued = await self._container.issue_token()(user_id=user_id, device=device)
        return issued.token


@pytest.fixture
def revocation_settings() -> Settings:
    """Override it to test other settings: `Settings.from_env({**TEST_SETTINGS, ...})`."""
    return Settings.from_env(TEST_SETTINGS)


@pytest.fixture
def revocation_clock() -> ManualClock:
    """The service's clock for this test, from now; `advance(seconds)` moves it: the token log's
    expiry, watermarks, sessions and purges follow it (signatures are checked by PyJWT against
    the real time, so tokens are issued at the real now)."""
    return ManualClock(time.time())


@pytest.fixture
def revocation_container(revocation_settings: Settings, revocation_clock: ManualClock) -> Container:
    """Every adapter in memory (no database, no Redis), on the test's clock."""
    container = Container(settings=revocation_settings, in_memory=True)
    container.clock.override(providers.Object(revocation_clock))
    return container


@pytest.fixture
def revocation_app(revocation_container: Container) -> Litestar:
    """The real app (routes, middleware, error map) on that container."""
    return create_app(revocation_container)


@pytest.fixture
def revocation_token(revocation_container: Container) -> TokenFactory:
    return TokenFactory(revocation_container)
