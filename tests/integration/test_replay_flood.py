"""A flood of one replayed token against the real service: a bounded number of log lines and
one alert, however many requests; the tally's Redis calls come per round, not per request."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from revocation.adapters.replay_queue import DEFAULT_ROUND_SECONDS as ROUND
from tests.integration.service_calls import eventually, identity, issue_token, logout, verify
from tests.integration.throwaway import ThrowawayRedis, fresh_database, throwaway_redis
from tests.live_server import LiveServer, live_server
from tests.random_refs import random_user_id
from tests.raw_http import burst, request_bytes

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

FLOOD = 10_000
AT_ONCE = 250  # connections open together: well under the default file descriptor limit


@pytest.fixture
def fault_redis() -> Iterator[ThrowawayRedis]:
    with throwaway_redis() as server:  # its command counts are this test's alone
        yield server


def json_lines(log: Path) -> list[dict[str, Any]]:
    lines = log.read_bytes().decode(errors="replace").splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def events(log: Path, name: str) -> list[dict[str, Any]]:
    return [line for line in json_lines(log) if line.get("event") == name]


def tally_calls(client: redis.Redis) -> int:
    """The tally script's runs, by the one command only it sends (INCRBY): the blacklist's own
    scripts run on every cache miss too."""
    stats: dict[str, dict[str, int]] = client.info("commandstats")
    return int(stats.get("cmdstat_incrby", {}).get("calls", 0))


async def flood(server: LiveServer, token: str) -> list[int]:
    request = request_bytes("GET", "/api/v2/auth/verify", [("Authorization", f"Bearer {token}")])
    statuses: list[int] = []
    for _ in range(FLOOD // AT_ONCE):
        statuses += [r.status for r in await burst(server.base_url, [request] * AT_ONCE)]
    return statuses


@pytest.fixture
def database_url(postgres_url: str) -> Iterator[str]:
    with fresh_database(postgres_url) as url:
        yield url


def test_a_flood_of_one_replayed_token_writes_a_few_lines_and_one_alert(
    database_url: str, fault_redis: ThrowawayRedis, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    env = {
        # A database of its own: the blacklist repair then pushes no one else's revocations
        # into this Redis, whose script calls are counted below.
        "DATABASE_URL": database_url,
        "REDIS_URL": fault_redis.url,
        "REPLAY_GRACE_SECONDS": "0",
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json",
    }
    user = random_user_id()
    with (
        log.open("wb") as stderr,
        live_server(env, stderr=stderr) as server,
        redis.Redis(port=fault_redis.port) as stats,
    ):
        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            token = issue_token(client, user)
            calls_before_valid = tally_calls(stats)
            for _ in range(100):
                assert verify(client, token).status_code == 200
            valid_checks_tally_calls = tally_calls(stats) - calls_before_valid
            assert logout(client, token).status_code == 200
        lines_before, calls_before = len(json_lines(log)), tally_calls(stats)
        started = time.monotonic()

        statuses = asyncio.run(flood(server, token))

        eventually(lambda: bool(events(log, "revoked_token_replayed")), "the alert")
        flood_seconds, flood_calls = time.monotonic() - started, tally_calls(stats) - calls_before
    # Stopped: the refusal summary's last interval is written at shutdown.
    assert valid_checks_tally_calls == 0  # a live token costs the watch nothing
    assert statuses == [401] * FLOOD
    [alert] = events(log, "revoked_token_replayed")
    assert (alert["user_id"], alert["session_id"]) == (user, identity(token)[0].session_id)
    assert alert["peer"] == "127.0.0.1"
    assert token.rsplit(".", 1)[1] not in log.read_text(errors="replace")
    revoked = [e for e in events(log, "token_rejections") if e["reason"] == "revoked"]
    assert sum(e["count"] for e in revoked) == FLOOD  # every replay counted, in few lines
    written = len(json_lines(log)) - lines_before
    assert written <= 10, [line.get("message") for line in json_lines(log)[lines_before:]]
    # One script call per round (one every ROUND seconds while replays keep coming), never one per
    # request: the flood's requests did no I/O of their own for the tally.
    assert flood_calls <= flood_seconds / ROUND + 5, (flood_calls, flood_seconds)
