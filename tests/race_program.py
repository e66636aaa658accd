"""Random programs of issue / validate / logout / logout-all / lgt-all, run with real overlap.

Every operation is a request sent while up to `concurrency` others are in flight, on one of
several app instances. Each request records a tick when it is sent and when its answer is back,
so `race_model` can judge every answer by what had completed before it was sent.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from revocation.entrypoints.http.verify import VERIFY_PATH

LOGGED_OUT_EVERYWHERE = b'{"message":"Successfully Logged Out From All Device."}'
# A revocation that is durable in the database but that Redis did not take (a fault test):
# it may or may not have taken effect yet, so it is recorded as a "maybe" revocation.
UNAVAILABLE = b'{"title":"Service Unavailable"}'

Kind = Literal["issue", "validate", "logout", "double_logout", "logout_all", "lgt_all"]
# Weights by repetition: mostly checks, enough user-wide logouts that they hit live tokens.
KINDS: tuple[Kind, ...] = (
    *("issue",) * 5,
    *("validate",) * 8,
    *("logout",) * 3,
    "double_logout",
    "logout_all",
    "lgt_all",
)
PATHS = {
    "validate": VERIFY_PATH,  # the gateway check: reads the token, changes nothing
    "logout": "/api/v2/logout",
    "logout_all": "/api/v2/logout-all-device",
}


@dataclass(frozen=True, slots=True)
class Op:
    kind: Kind
    instance: int
    user: int  # index into the run's users
    recent: int  # which token: 0 is the newest issued so far


PROGRAM_SIZE = 250


def for_each_program(
    operations: int, size: int = PROGRAM_SIZE
) -> Callable[[Callable[[list[Op]], None]], Callable[[], None]]:
    """Runs the decorated function on random programs of `size` until about `operations` ran.

    Generated only: a live race does not replay, so shrinking would chase noise.
    """

    def decorate(run_one: Callable[[list[Op]], None]) -> Callable[[], None]:
        examples = settings(
            max_examples=max(1, operations // size),
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        run: Callable[[], None] = examples(given(program=programs(size))(run_one))
        return run

    return decorate


def programs(size: int, *, instances: int = 2, users: int = 3) -> st.SearchStrategy[list[Op]]:
    op = st.builds(
        Op,
        kind=st.sampled_from(KINDS),
        instance=st.integers(0, instances - 1),
        user=st.integers(0, users - 1),
        recent=st.integers(0, 7),
    )
    return st.lists(op, min_size=size, max_size=size)


@dataclass(frozen=True, slots=True)
class Issued:
    token: str = field(repr=False)  # failure messages never show a live token
    user: int  # index into the run's users
    sent: int
    done: int


@dataclass(frozen=True, slots=True)
class Probe:
    """One request that presented a token: a validate, a logout or a logout-all-device."""

    kind: str
    token: int  # index into Run.tokens
    instance: int
    sent: int
    done: int
    status: int
    body: bytes
    user_header: str | None = None  # X-User-Id of a verify answer
    pair: int | None = None  # the two logouts of a double_logout share a pair number


@dataclass(frozen=True, slots=True)
class UserLogout:
    """A logout-all-device or lgt-all that answered 200 (the user's older tokens must be dead)
    or 503 (they may be dead: the watermark is durable, but Redis did not take it)."""

    user: int
    sent: int
    done: int
    status: int = 200
    kind: str = "lgt_all"


@dataclass
class Run:
    clients: Sequence[httpx.AsyncClient]
    user_ids: Sequence[int]
    credentials: dict[str, str]
    tokens: list[Issued] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    user_logouts: list[UserLogout] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    in_flight: int = 0
    peak_in_flight: int = 0
    _tick: itertools.count[int] = field(default_factory=itertools.count)
    _pairs: itertools.count[int] = field(default_factory=itertools.count)

    async def execute(self, program: Sequence[Op], concurrency: int) -> None:
        slots = asyncio.Semaphore(concurrency)
        async with asyncio.TaskGroup() as group:
            for op in program:
                await slots.acquire()
                group.create_task(self._run(op, slots))

    async def _run(self, op: Op, slots: asyncio.Semaphore) -> None:
        try:
            if op.kind == "issue" or not self.tokens:
                await self._issue(op)
            elif op.kind == "lgt_all":
                await self._lgt_all(op)
            elif op.kind == "double_logout":
                token, pair = self._pick(op), next(self._pairs)
                await asyncio.gather(
                    *(self._present("logout", token, n, pair) for n in range(len(self.clients)))
                )
            else:
                await self._present(op.kind, self._pick(op), op.instance)
        finally:
            slots.release()

    def _pick(self, op: Op) -> int:
        return len(self.tokens) - 1 - op.recent % len(self.tokens)

    async def _request(
        self, instance: int, method: str, path: str, **kwargs: object
    ) -> tuple[int, int, httpx.Response]:
        sent = next(self._tick)
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            response = await self.clients[instance].request(method, path, **kwargs)  # type: ignore[arg-type]
        finally:
            self.in_flight -= 1
        return sent, next(self._tick), response

    async def _issue(self, op: Op) -> None:
        body = {"user_id": self.user_ids[op.user], **self.credentials}
        sent, done, response = await self._request(
            op.instance, "POST", "/api/v2/internal/tokens", json=body
        )
        if response.status_code != 200:
            self.errors.append(f"issue got {response.status_code} {response.text}")
            return
        self.tokens.append(Issued(response.json()["token"], op.user, sent, done))

    async def _lgt_all(self, op: Op) -> None:
        body = {"user_id": self.user_ids[op.user], **self.credentials}
        sent, done, response = await self._request(
            op.instance, "POST", "/api/v2/lgt-all", json=body
        )
        status = response.status_code
        if (status, response.content) not in ((200, LOGGED_OUT_EVERYWHERE), (503, UNAVAILABLE)):
            self.errors.append(f"lgt-all got {status} {response.text}")
            return
        self.user_logouts.append(UserLogout(op.user, sent, done, status))

    async def _present(self, kind: str, token: int, instance: int, pair: int | None = None) -> None:
        method = "GET" if kind == "validate" else "POST"
        headers = {"Authorization": f"Bearer {self.tokens[token].token}"}
        sent, done, response = await self._request(instance, method, PATHS[kind], headers=headers)
        status, user = response.status_code, response.headers.get("x-user-id")
        self.probes.append(
            Probe(kind, token, instance, sent, done, status, response.content, user, pair)
        )
        if kind == "logout_all" and status in (200, 503):
            user_logout = UserLogout(self.tokens[token].user, sent, done, status, kind)
            self.user_logouts.append(user_logout)
