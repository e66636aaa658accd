"""Random interleavings across TWO `revocation serve` processes on the shared Postgres and Redis.

Hypothesis generates programs of issue / validate / logout / double logout / logout-all /
lgt-all; each runs with RACE_CONCURRENCY requests in flight across both instances, and
`race_model.judge` checks every answer against what had completed before it was sent.
RACE_OPERATIONS (default 10000) sets the total size.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from tests.live_server import SERVER_ENV, LiveServer, live_server
from tests.race_model import judge
from tests.race_program import Op, Run, for_each_program
from tests.random_refs import random_user_id

OPERATIONS = int(os.environ.get("RACE_OPERATIONS", "10000"))
CONCURRENCY = int(os.environ.get("RACE_CONCURRENCY", "16"))
CREDENTIALS = {"app_id": SERVER_ENV["APP_ID"], "app_key": SERVER_ENV["APP_KEY"]}


@pytest.fixture(scope="module")
def servers(postgres_url: str, redis_url: str) -> Iterator[list[LiveServer]]:
    env = {"DATABASE_URL": postgres_url, "REDIS_URL": redis_url}
    # Thousands of requests' log lines go to a file, not into the test run's captured output.
    with (
        tempfile.TemporaryFile() as logs,
        live_server(env, stderr=logs) as first,
        live_server(env, migrate=False, stderr=logs) as second,
    ):
        yield [first, second]


async def run_program(servers: list[LiveServer], program: list[Op], users: list[int]) -> Run:
    limits = httpx.Limits(max_connections=CONCURRENCY)
    clients = [httpx.AsyncClient(base_url=s.base_url, limits=limits, timeout=30) for s in servers]
    try:
        run = Run(clients=clients, user_ids=users, credentials=CREDENTIALS)
        await run.execute(program, CONCURRENCY)
    finally:
        for client in clients:
            await client.aclose()
    return run


def test_no_instance_accepts_a_revoked_token(servers: list[LiveServer]) -> None:
    users = [random_user_id() for _ in range(3)]  # few users: logouts-all hit live tokens
    totals: Counter[str] = Counter()
    started = time.monotonic()

    @for_each_program(OPERATIONS)
    def run_one(program: list[Op]) -> None:
        run = asyncio.run(run_program(servers, program, users))
        verdict = judge(run)
        assert verdict.violations == []
        totals.update(verdict.outcomes)
        totals["operations"] += len(program)
        totals["both logouts 200"] += verdict.both_succeeded_pairs
        totals["peak in flight"] = max(totals["peak in flight"], run.peak_in_flight)

    run_one()
    print(f"races: {dict(totals)} in {time.monotonic() - started:.1f} s")
    assert totals["operations"] >= OPERATIONS
    assert totals["peak in flight"] >= min(CONCURRENCY, 4)  # they really overlapped
    assert min(totals["logout 401"], totals["validate 401"], totals["validate 200"]) > 0
