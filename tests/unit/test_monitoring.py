"""Monitoring through HTTP: repeated rejections and failed logouts are structured log events
with a running count, and no log record of any logger ever holds the token or a piece of it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from revocation.entrypoints.app import create_app
from revocation.entrypoints.logs import JsonFormatter
from tests.app_factory import TEST_ENV, in_memory_container

CREDENTIALS = {"app_id": TEST_ENV["APP_ID"], "app_key": TEST_ENV["APP_KEY"]}
REPEATS = 5


@pytest.fixture
async def client() -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=create_app(in_memory_container())) as test_client:
        yield test_client


async def issue(client: AsyncTestClient[Litestar]) -> str:
    response = await client.post("/api/v2/internal/tokens", json={"user_id": 77, **CREDENTIALS})
    return str(response.json()["token"])


def events(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", None) == name]


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    """Each record as the service writes it (JSON with every extra), plus its raw fields."""
    formatter = JsonFormatter()
    return "\n".join(formatter.format(r) + repr(vars(r)) for r in caplog.records)


async def test_repeated_failed_logouts_are_summarised_without_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, every level
    async with AsyncTestClient(app=create_app(in_memory_container())) as client:
        token = await issue(client)
        headers = {"Authorization": f"Bearer {token}", "X-Request-Id": "first-refusal"}
        assert (await client.post("/api/v2/logout", headers=headers)).status_code == 200
        for _ in range(REPEATS):
            assert (await client.post("/api/v2/logout", headers=headers)).status_code == 401
        assert events(caplog, "token_rejections") == []  # not one line per refusal
    # The app's shutdown writes the interval's summary.
    [summary] = events(caplog, "token_rejections")
    assert (summary.reason, summary.count) == ("revoked", REPEATS)  # type: ignore[attr-defined]
    assert summary.example_request_id == "first-refusal"  # type: ignore[attr-defined]
    logged = everything_logged(caplog)
    _header, payload, signature = token.split(".")
    for secret_part in (token, signature, payload, f"{payload}.{signature}"):
        assert secret_part not in logged


async def test_repeated_bad_tokens_are_summarised_without_their_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with AsyncTestClient(app=create_app(in_memory_container())) as client:
        forged = (await issue(client))[:-8] + "AAAAAAAA"  # a bad signature: refused, not revoked
        for _ in range(REPEATS):
            response = await client.post(
                "/api/v2/logout", headers={"Authorization": f"Bearer {forged}"}
            )
            assert response.status_code == 401
    [summary] = events(caplog, "token_rejections")
    assert (summary.reason, summary.count) == ("invalid", REPEATS)  # type: ignore[attr-defined]
    assert forged.split(".")[2] not in everything_logged(caplog)


async def test_repeated_bad_app_keys_are_security_events_without_the_key(
    client: AsyncTestClient[Litestar], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = {"user_id": 1, "app_id": CREDENTIALS["app_id"], "app_key": "a-near-miss-key"}
    for _ in range(REPEATS):
        assert (await client.post("/api/v2/lgt-all", json=wrong)).status_code == 401
    failures = events(caplog, "security.internal_auth_failed")
    assert [getattr(r, "count", 0) for r in failures] == list(range(1, REPEATS + 1))
    assert all(r.levelno == logging.WARNING for r in failures)
    assert "a-near-miss-key" not in everything_logged(caplog)
    assert CREDENTIALS["app_key"] not in everything_logged(caplog)
