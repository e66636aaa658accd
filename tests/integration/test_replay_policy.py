"""REPLAY_POLICY=revoke-user on two server processes sharing Postgres and Redis: a revoked token
presented again after the grace period logs its user out everywhere, on both instances; one
presented within the grace period (a client's requests still in flight) does not."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator

import httpx
import pytest

from revocation.adapters.replay_queue import DEFAULT_ROUND_SECONDS as ROUND
from tests.integration.service_calls import eventually, issue_token, logout, verify
from tests.live_server import live_server
from tests.random_refs import random_user_id

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

GRACE = 3
Pair = tuple[httpx.Client, httpx.Client]


@pytest.fixture(scope="module")
def instances(postgres_url: str, redis_url: str) -> Iterator[Pair]:
    env = {
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_url,
        "REPLAY_POLICY": "revoke-user",
        "REPLAY_GRACE_SECONDS": str(GRACE),
        "LOG_LEVEL": "WARNING",
    }
    with contextlib.ExitStack() as stack:
        first = stack.enter_context(live_server(env))
        second = stack.enter_context(live_server(env, migrate=False))
        clients = [
            stack.enter_context(httpx.Client(base_url=server.base_url, timeout=10))
            for server in (first, second)
        ]
        yield clients[0], clients[1]


def live_on_both(instances: Pair, token: str) -> list[bool]:
    return [verify(instance, token).status_code == 200 for instance in instances]


def replays_handled(instance: httpx.Client, outcome: str = r"\w+") -> float:
    """Replays the instance's rounds handled (with that outcome), from its metrics."""
    metrics = instance.get("/metrics").text
    found = re.findall(rf'revocation_token_replays_total{{outcome="{outcome}"}} (\S+)', metrics)
    return sum(float(value) for value in found)


class TestRevokeUser:
    def test_a_replay_after_the_grace_period_logs_the_user_out_on_both_instances(
        self, instances: Pair
    ) -> None:
        a, b = instances
        user = random_user_id()
        stolen, on_a, on_b = (issue_token(i, user) for i in (a, b, b))
        assert logout(a, stolen).status_code == 200
        assert live_on_both(instances, on_a) == live_on_both(instances, on_b) == [True, True]
        time.sleep(GRACE + 0.2)

        assert verify(b, stolen).status_code == 401  # the thief, on either instance

        eventually(lambda: live_on_both(instances, on_a) == [False, False], "killed on both")
        assert live_on_both(instances, on_b) == [False, False]
        after = issue_token(a, user)  # the user logs in again: that works everywhere
        assert live_on_both(instances, after) == [True, True]

    def test_a_replay_within_the_grace_period_logs_no_one_out(self, instances: Pair) -> None:
        a, b = instances
        user = random_user_id()
        stolen, other = issue_token(a, user), issue_token(b, user)
        assert logout(a, stolen).status_code == 200
        time.sleep(ROUND + 0.5)  # earlier tests' rounds are over: the counts below are ours
        handled, in_grace = replays_handled(a), replays_handled(a, "grace")

        for _ in range(3):
            assert verify(a, stolen).status_code == 401  # in flight as the logout returned

        eventually(lambda: replays_handled(a) >= handled + 3, "the replays handled")
        time.sleep(ROUND + 0.5)  # a logout-all the round started has had its time
        assert live_on_both(instances, other) == [True, True]
        assert replays_handled(a, "grace") >= in_grace + 3
