"""Brute force on lgt-all through the real server behind a trusted proxy (X-Forwarded-For).

The attacker's guesses are logged as security events with a running count and throttled with
the spec's body and Retry-After; a valid caller at another address is never locked out. With
Redis the count is shared: guesses at one instance lock the peer out of the other too.
Addresses are random per run (documentation ranges): the counts live in the shared Redis.
"""

from __future__ import annotations

import json
import secrets
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.live_server import SERVER_ENV, LiveServer, live_server
from tests.random_refs import random_user_id

BAD_CREDENTIALS = b'{"title":"Kindly Provide Valid APP ID and APP KEY"}'
LOGGED_OUT_EVERYWHERE = b'{"message":"Successfully Logged Out From All Device."}'
MAX_FAILURES = 3


def random_peer() -> str:
    """Written as the server writes an address back (no leading zeros)."""
    return f"2001:db8::{secrets.randbelow(0xFFFF) + 1:x}:{secrets.randbelow(0xFFFF) + 1:x}"


@pytest.fixture(scope="module")
def logs() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        yield Path(directory) / "server.log"


def throttled_env(postgres_url: str, redis_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_url,
        "TRUSTED_PROXIES": "127.0.0.1",
        "LGT_ALL_MAX_FAILURES": str(MAX_FAILURES),
        "LGT_ALL_FAILURE_WINDOW_SECONDS": "60",
    }


@pytest.fixture(scope="module")
def server(postgres_url: str, redis_url: str, logs: Path) -> Iterator[LiveServer]:
    env = throttled_env(postgres_url, redis_url)
    with logs.open("wb") as sink, live_server(env, stderr=sink) as running:
        yield running


def lgt_all(server: LiveServer, peer: str, app_key: str) -> httpx.Response:
    body = {"user_id": random_user_id(), "app_id": SERVER_ENV["APP_ID"], "app_key": app_key}
    headers = {"X-Forwarded-For": peer}
    return httpx.post(f"{server.base_url}/api/v2/lgt-all", json=body, headers=headers)


def security_events(logs: Path) -> list[dict[str, object]]:
    time.sleep(0.2)  # the server writes its log lines after answering
    lines = [json.loads(line) for line in logs.read_text().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == "security.internal_auth_failed"]


def test_a_guessing_peer_is_throttled_and_logged_while_a_valid_caller_is_not(
    server: LiveServer, logs: Path
) -> None:
    attacker, caller = random_peer(), random_peer()
    guesses = [lgt_all(server, attacker, f"guess-{n}") for n in range(MAX_FAILURES)]
    assert [(r.status_code, r.content) for r in guesses] == [(401, BAD_CREDENTIALS)] * MAX_FAILURES
    assert all("retry-after" not in r.headers for r in guesses)

    # Now even the right key from the attacker's address is refused, uncompared.
    locked = lgt_all(server, attacker, SERVER_ENV["APP_KEY"])
    assert (locked.status_code, locked.content) == (401, BAD_CREDENTIALS)
    assert 0 < int(locked.headers["retry-after"]) <= 60
    # Prepending the caller's address does not help: only the proxy's own hop is believed.
    spoofed = lgt_all(server, f"{caller}, {attacker}", SERVER_ENV["APP_KEY"])
    assert "retry-after" in spoofed.headers

    valid = lgt_all(server, caller, SERVER_ENV["APP_KEY"])
    assert (valid.status_code, valid.content) == (200, LOGGED_OUT_EVERYWHERE)

    events = security_events(logs)
    assert [(e["peer"], e["throttled"]) for e in events] == [(attacker, False)] * MAX_FAILURES + [
        (attacker, True)
    ] * 2
    assert [e["count"] for e in events] == list(range(1, MAX_FAILURES + 3))
    assert all(e["level"] == "WARNING" for e in events)
    log_text = logs.read_text()
    assert SERVER_ENV["APP_KEY"] not in log_text
    assert "guess-0" not in log_text  # a wrong key is a near-miss secret: never logged


def test_guesses_at_one_instance_lock_the_peer_out_of_another(
    postgres_url: str, redis_url: str
) -> None:
    env = throttled_env(postgres_url, redis_url)
    attacker, caller = random_peer(), random_peer()
    with live_server(env) as first, live_server(env, migrate=False) as second:
        for n in range(MAX_FAILURES):
            assert "retry-after" not in lgt_all(first, attacker, f"guess-{n}").headers
        locked = lgt_all(second, attacker, SERVER_ENV["APP_KEY"])
        assert (locked.status_code, locked.content) == (401, BAD_CREDENTIALS)
        assert 0 < int(locked.headers["retry-after"]) <= 60
        assert lgt_all(second, caller, SERVER_ENV["APP_KEY"]).status_code == 200
        assert lgt_all(first, caller, SERVER_ENV["APP_KEY"]).status_code == 200
