"""Two service instances on a replicated Redis (Sentinel or Cluster) and a fresh database, and a
watch that keeps checking revoked tokens on both while a test breaks Redis: what each instance
did during a fault, in figures a closing note can quote."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import httpx

from revocation.adapters.redis.tracking import CLIENT_NAME
from tests.integration.redis_processes import RedisProcess
from tests.integration.service_calls import issue_token
from tests.integration.throwaway import fresh_database
from tests.live_server import SERVER_ENV, LiveServer, live_server
from tests.random_refs import random_user_id

PAUSE_BETWEEN_CHECKS = 0.001  # seconds, per check of a Watch thread
CREDENTIALS = {"app_id": SERVER_ENV["APP_ID"], "app_key": SERVER_ENV["APP_KEY"]}


@dataclass
class Fleet:
    servers: list[LiveServer]
    clients: list[httpx.Client]

    def issue(self, instance: int = 0) -> str:
        return issue_token(self.clients[instance], random_user_id())

    def logout(self, instance: int, token: str) -> int:
        headers = {"Authorization": f"Bearer {token}"}
        return self.clients[instance].post("/api/v2/logout", headers=headers).status_code

    def check(self, instance: int, token: str) -> int:
        headers = {"Authorization": f"Bearer {token}"}
        return self.clients[instance].get("/api/v2/auth/verify", headers=headers).status_code

    def fast_path(self, instance: int) -> bool:
        with contextlib.suppress(httpx.HTTPError):
            ready = self.clients[instance].get("/health/ready")
            return bool(ready.json().get("checks", {}).get("fast_path") == "on")
        return False

    def wait_fast_path(self, within: float = 60.0, instances: Sequence[int] | None = None) -> float:
        """Seconds until the instances (by default both) answer from the fast layer alone."""
        started = time.monotonic()
        waited_for = range(len(self.clients)) if instances is None else instances
        while not all(self.fast_path(index) for index in waited_for):
            assert time.monotonic() - started < within, "the fast path never came back"
            time.sleep(0.1)
        return time.monotonic() - started

    def revoked(self, count: int = 4) -> list[str]:
        """Tokens logged out (200) through either instance."""
        tokens = [self.issue(index % 2) for index in range(count)]
        for index, token in enumerate(tokens):
            assert self.logout(index % 2, token) == 200
        return tokens


@contextlib.contextmanager
def fleet(
    postgres_url: str, redis_env: Mapping[str, str], parties: dict[int, str], **env: str
) -> Iterator[Fleet]:
    """Two instances (named `instance-0`, `instance-1` to a fault proxy through `parties`)."""
    with fresh_database(postgres_url) as database_url, contextlib.ExitStack() as stack:
        settings = {
            "DATABASE_URL": database_url,
            "REVOCATION_CACHE": "local",
            "BLACKLIST_REPAIR_INTERVAL_SECONDS": "1",
            "LOG_LEVEL": "WARNING",
            **redis_env,
            **env,
        }
        servers = [
            stack.enter_context(live_server(settings, migrate=index == 0)) for index in range(2)
        ]
        for index, server in enumerate(servers):
            parties[server.process.pid] = f"instance-{index}"
        clients = [
            stack.enter_context(httpx.Client(base_url=server.base_url, timeout=10))
            for server in servers
        ]
        yield Fleet(servers, clients)


@dataclass
class Watch:
    """Checks every revoked token on both instances, over and over, until stopped."""

    fleet: Fleet
    revoked: list[str]
    statuses: list[Counter[int]] = field(default_factory=lambda: [Counter(), Counter()])
    stopping: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> Watch:
        self._threads = [
            threading.Thread(target=self._run, args=(index,), daemon=True) for index in (0, 1)
        ]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        for thread in self._threads:
            thread.join()

    def add(self, token: str) -> None:
        self.revoked.append(token)  # lists are safe to append to while read by index

    def _run(self, instance: int) -> None:
        with httpx.Client(base_url=self.fleet.servers[instance].base_url, timeout=10) as client:
            while not self.stopping.is_set():
                for token in list(self.revoked):
                    headers = {"Authorization": f"Bearer {token}"}
                    try:
                        status = client.get("/api/v2/auth/verify", headers=headers).status_code
                    except httpx.HTTPError:
                        status = 0
                    self.statuses[instance][status] += 1
                    # A breath between checks: the fault proxies are threads of this process,
                    # and two threads looping on instances that answer in tens of microseconds
                    # can keep them from the GIL past the instances' 25 ms leases.
                    time.sleep(PAUSE_BETWEEN_CHECKS)

    def accepted(self) -> int:
        """Revoked tokens let in, on either instance."""
        return sum(counter[200] for counter in self.statuses)

    def row(self) -> str:
        return " | ".join(
            f"instance {index}: {dict(sorted(counter.items()))}"
            for index, counter in enumerate(self.statuses)
        )


def killed_tracking(node: RedisProcess) -> int:
    with node.admin() as admin:
        tracking = [c for c in admin.client_list() if c["name"] == CLIENT_NAME.decode()]
        return sum(int(admin.client_kill_filter(_id=c["id"])) for c in tracking)
