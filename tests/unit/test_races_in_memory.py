"""The race invariants on two in-process app instances sharing the in-memory adapters.

The real proof runs two server processes (tests/integration/test_races.py); this one runs the
same programs and the same judge in milliseconds, so a broken rule shows up in the unit suite.
"""

from __future__ import annotations

import asyncio
import random
from contextlib import AsyncExitStack

from hypothesis import HealthCheck, Phase, given, settings
from litestar.testing import AsyncTestClient

from revocation.entrypoints.app import create_app
from tests.app_factory import TEST_ENV, in_memory_container
from tests.race_model import judge
from tests.race_program import Op, Run, programs

CREDENTIALS = {"app_id": TEST_ENV["APP_ID"], "app_key": TEST_ENV["APP_KEY"]}


async def run_program(program: list[Op]) -> Run:
    container = in_memory_container()
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(AsyncTestClient(create_app(container)))
            for _ in range(2)
        ]
        users = [random.randint(1, 10**9) for _ in range(3)]
        run = Run(clients=clients, user_ids=users, credentials=CREDENTIALS)
        await run.execute(program, concurrency=8)
    return run


@settings(
    max_examples=20,
    deadline=None,
    phases=[Phase.generate],
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(program=programs(60))
def test_two_instances_never_accept_a_revoked_token(program: list[Op]) -> None:
    verdict = judge(asyncio.run(run_program(program)))
    assert verdict.violations == []
