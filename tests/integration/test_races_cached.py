"""The two-instance race test with the local cache on, while Redis is hit by faults mid-run.

Two `revocation serve` processes (REVOCATION_CACHE=local, the default lease) share a throwaway
redis-server and a fresh database. Hypothesis programs run as in test_races.py while a thread
keeps injecting, at random moments: a kill of the tracking connections (`rv-tracking`), a
FLUSHALL, and a Redis crash and restart (empty) on the same port. `race_model.judge` allows
503s here and counts a revocation that answered 503 as "maybe"; a token accepted after a logout
or logout-all returned 200 is still a violation. RACE_FAULT_OPERATIONS (else RACE_OPERATIONS,
else 10000) sets the size: 10,000 operations take about a minute on two cores.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis

from revocation.adapters.redis.tracking import CLIENT_NAME
from tests.integration.throwaway import ThrowawayRedis, fresh_database, throwaway_redis
from tests.live_server import SERVER_ENV, LiveServer, live_server
from tests.race_model import judge
from tests.race_program import Op, Run, for_each_program
from tests.random_refs import random_user_id

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    # The fault thread's redis-py retries draw jitter from the global `random` while Hypothesis
    # builds a program; that randomness never reaches the program, so the warning is a false alarm.
    pytest.mark.filterwarnings(
        "ignore:Do not use the `random` module inside strategies"
        ":hypothesis.errors.HypothesisDeprecationWarning"
    ),
]

OPERATIONS = int(
    os.environ.get("RACE_FAULT_OPERATIONS") or os.environ.get("RACE_OPERATIONS", "10000")
)
CONCURRENCY = int(os.environ.get("RACE_CONCURRENCY", "16"))
CREDENTIALS = {"app_id": SERVER_ENV["APP_ID"], "app_key": SERVER_ENV["APP_KEY"]}
FAULT_GAP_SECONDS = (0.05, 0.6)  # between two faults
KINDS = ("tracking killed", "flushall", "redis restarted")
# Each round: the kinds shuffled, tracking kills thrice (cheap, and each opens a short window in
# which a cache that ignored its lease would serve values no invalidation keeps fresh).
ROUND = (*KINDS, *("tracking killed",) * 2)


@dataclass
class Traffic:
    """The run in progress, so the fault thread can tell whether requests were in flight."""

    run: Run | None = None

    def busy(self) -> bool:
        run = self.run
        return run is not None and run.in_flight > 0


@dataclass
class Faults:
    """Injects one fault after another, in a shuffled order of the kinds, until stopped."""

    redis: ThrowawayRedis
    traffic: Traffic
    seed: int = field(default_factory=lambda: random.randrange(2**32))
    injected: Counter[str] = field(default_factory=Counter)
    during_traffic: Counter[str] = field(default_factory=Counter)
    stopping: threading.Event = field(default_factory=threading.Event)
    error: Exception | None = None

    def run(self) -> None:
        try:
            self._loop()
        except Exception as error:  # re-raised by the test, which this thread can't fail
            self.error = error

    def _loop(self) -> None:
        rng = random.Random(self.seed)
        while True:
            kinds = list(ROUND)
            rng.shuffle(kinds)
            for kind in kinds:
                if self.stopping.wait(rng.uniform(*FAULT_GAP_SECONDS)):
                    return
                busy = self.traffic.busy()
                if self._inject(kind, rng):
                    self.injected[kind] += 1
                    self.during_traffic[kind] += busy and self.traffic.busy()

    def _inject(self, kind: str, rng: random.Random) -> bool:
        """True when the fault happened (a reconnecting listener may have no connection yet)."""
        if kind == "redis restarted":
            self.redis.kill()
            time.sleep(rng.uniform(0, 0.3))  # down for a while: revocations answer 503
            self.redis.start()
            return True
        with redis.Redis(port=self.redis.port, socket_timeout=2) as admin:
            if kind == "flushall":
                admin.flushall()
                return True
            tracking = [c for c in admin.client_list() if c["name"] == CLIENT_NAME.decode()]
            victims = rng.sample(tracking, rng.randint(1, len(tracking))) if tracking else []
            # Then no new connection for a while (open ones keep working): the listener stays
            # away long enough that a cache serving without its lease would go stale.
            admin.config_set("maxclients", 1)
            try:
                killed = sum(int(admin.client_kill_filter(_id=c["id"])) for c in victims)
                time.sleep(rng.uniform(0, 0.5))
            finally:
                admin.config_set("maxclients", 10000)
            return killed > 0


@pytest.fixture(scope="module")
def fault_redis() -> Iterator[ThrowawayRedis]:
    with throwaway_redis() as server:
        yield server


@pytest.fixture(scope="module")
def server_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both servers' log lines: thousands, so a file; a failure quotes its errors."""
    return tmp_path_factory.mktemp("race-logs") / "servers.log"


def logged_errors(log: Path) -> list[str]:
    lines = log.read_text(errors="replace").splitlines()
    return [line[:2000] for line in lines if '"level": "ERROR"' in line][:5]


@pytest.fixture(scope="module")
def servers(
    postgres_url: str, fault_redis: ThrowawayRedis, server_log: Path
) -> Iterator[list[LiveServer]]:
    with fresh_database(postgres_url) as database_url:
        env = {
            "DATABASE_URL": database_url,
            "REDIS_URL": fault_redis.url,
            "REVOCATION_CACHE": "local",
            "REVOCATION_LEASE_MS": "25",
            "BLACKLIST_REPAIR_INTERVAL_SECONDS": "1",
        }
        with (
            server_log.open("wb") as logs,
            live_server(env, stderr=logs) as first,
            live_server(env, migrate=False, stderr=logs) as second,
        ):
            yield [first, second]


async def run_program(
    servers: list[LiveServer], program: list[Op], users: list[int], traffic: Traffic
) -> Run:
    limits = httpx.Limits(max_connections=CONCURRENCY)
    clients = [httpx.AsyncClient(base_url=s.base_url, limits=limits, timeout=30) for s in servers]
    try:
        traffic.run = Run(clients=clients, user_ids=users, credentials=CREDENTIALS)
        await traffic.run.execute(program, CONCURRENCY)
        return traffic.run
    finally:
        traffic.run = None
        for client in clients:
            await client.aclose()


def test_no_instance_accepts_a_revoked_token_while_redis_fails(
    servers: list[LiveServer], fault_redis: ThrowawayRedis, server_log: Path
) -> None:
    users = [random_user_id() for _ in range(3)]
    totals: Counter[str] = Counter()
    traffic = Traffic()
    faults = Faults(fault_redis, traffic)
    injector = threading.Thread(target=faults.run, name="redis-faults", daemon=True)

    @for_each_program(OPERATIONS)
    def run_one(program: list[Op]) -> None:
        run = asyncio.run(run_program(servers, program, users, traffic))
        verdict = judge(run, allow_unavailable=True)
        done = totals["operations"] + len(program)
        shown = verdict.violations[:10]
        assert shown == [], (
            f"{len(verdict.violations)} violations by operation {done}: {shown}; "
            f"server errors: {logged_errors(server_log)}"
        )
        totals.update(verdict.outcomes)
        totals["operations"] += len(program)
        totals["peak in flight"] = max(totals["peak in flight"], run.peak_in_flight)

    started = time.monotonic()
    injector.start()
    try:
        run_one()
    finally:
        faults.stopping.set()
        injector.join()
    if faults.error is not None:
        raise faults.error
    elapsed = time.monotonic() - started
    print(
        f"races with faults (seed {faults.seed}): {dict(totals)}; faults injected "
        f"{dict(faults.injected)}, of which during traffic {dict(faults.during_traffic)}; "
        f"in {elapsed:.1f} s"
    )
    assert totals["operations"] >= OPERATIONS
    assert totals["peak in flight"] >= min(CONCURRENCY, 4)  # they really overlapped
    assert all(faults.during_traffic[kind] > 0 for kind in KINDS), faults.during_traffic
    assert min(totals["logout 401"], totals["validate 401"], totals["validate 200"]) > 0
