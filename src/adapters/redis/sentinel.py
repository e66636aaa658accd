"""Redis behind Sentinel: a client whose every connection follows the primary the sentinels
name, and the `Primary` that says how long an instance may keep trusting that node.

Why a window, and how long: an automatic failover starts only once `quorum` sentinels each saw
the primary fail to answer their pings for `down-after-milliseconds`. If, when asked, enough of
the N sentinels name the same primary, see nothing wrong with it (flags just "master"), and got
its last ping reply at most `x` ms before, any quorum includes one of them, and that one cannot
call the primary down before `sent - x + down_after`. No replica is promoted before that, so
until then the primary's data is the latest (minus a margin for clocks and scheduling).

Once every sentinel answers so, the window holds at once: none of them has called the primary
down, and none can before its own last ping reply + down-after. With some silent, a quorum of
the others must vouch; a sentinel also counts another's "down" answer for up to 5 s after it
came, so then a sentinel vouches only once our polls (at most a second apart, each showing a
ping reply recent enough that it could not have called the primary down in between) have seen
it healthy for longer than that. An instance cut off from the sentinels stops getting
confirmations, and its trust lapses within one window; one that hears them name another node
stops at once. Until a confirmation, nothing is trusted and checks ask the database.

Not covered: an operator's forced promotion (`SENTINEL FAILOVER`) skips the down-after wait.
Use `FAILOVER` on the primary instead (it demotes the primary before the replica takes writes),
or expect up to one poll interval in which a cache may still trust the old primary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from revocation.adapters.redis.client import (
    HEALTH_CHECK_INTERVAL_SECONDS,
    REDIS_FAILURES,
    RedisOptions,
)
from revocation.adapters.redis.tracking import Address
from revocation.adapters.serving_task import task_while_serving

logger = logging.getLogger(__name__)

_MARGIN = 0.1  # of the down-after time: sentinels' and our clocks, and our own scheduling
# A sentinel counts another's "down" answer for up to 5 s after it came, so only a sentinel
# seen healthy for longer than that, in polls at most `_GAP` apart, vouches for a primary.
VOTE_MEMORY = 5.5
_GAP = 1.0


class _BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """Sentinel's pool (connections follow the named primary) with the blocking pool's bound: a
    burst waits for a connection instead of being taken for an outage.

    Once it `follows` a SentinelPrimary, every connection handed out is on the node the
    sentinels name now. Closing the pool's connections when they name another is not enough: one
    being opened at that moment (its address asked before the change) or in use then (redis-py
    itself closes only idle ones) comes back connected to the deposed primary, which, cut off
    from the sentinels, still takes writes. A repair's writes landing there, with its marker
    stamped on the new primary, would vouch for revocations the new primary never got.
    """

    _primary: SentinelPrimary | None = None  # until `follow`: redis-py's own choice

    def follow(self, primary: SentinelPrimary) -> None:
        self._primary = primary

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        connection = await super().get_connection(*args, **kwargs)  # type: ignore[no-untyped-call]
        named = self._primary.named if self._primary is not None else None
        if named is None or (connection.host, connection.port) == named:
            return connection
        try:  # to the node the poll found most sentinels name, as the trust is decided on
            await connection.disconnect()
            await connection.connect_to(named)
        except BaseException:
            await self.release(connection)
            raise
        return connection


class _SentinelClient(Redis):
    """A client of the named primary that also closes its connections to the sentinels."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        pool = self.connection_pool
        if isinstance(pool, SentinelConnectionPool):  # always, as built below
            await pool.sentinel_manager.aclose()


def build_sentinel_client(
    sentinels: Sequence[Address],
    service: str,
    url: str,
    options: RedisOptions,
    *,
    sentinel_password: str | None = None,
) -> Redis:
    """A client of the primary named `service`; `url` gives the data nodes' password, database
    and TLS (its host and port are not used)."""
    parts = urlsplit(url)
    connection: dict[str, Any] = {
        "db": int(parts.path.strip("/") or 0),
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        "ssl": parts.scheme == "rediss",
        "socket_timeout": options.socket_timeout,
        "socket_connect_timeout": options.connect_timeout,
        # As `client.build_redis_client`: one immediate retry, on a connection error only (a
        # retry after a failover asks the sentinels again).
        "retry": Retry(NoBackoff(), retries=1, supported_errors=(RedisConnectionError,)),
        "health_check_interval": HEALTH_CHECK_INTERVAL_SECONDS,
        "decode_responses": False,
    }
    manager = Sentinel(
        list(sentinels), sentinel_kwargs=_sentinel_kwargs(options, sentinel_password)
    )
    client: Redis = manager.master_for(
        service,
        redis_class=_SentinelClient,
        connection_pool_class=_BlockingSentinelPool,
        max_connections=options.max_connections,
        timeout=options.pool_timeout,
        **connection,
    )
    return client


def follow_primary(client: Redis, primary: SentinelPrimary) -> None:
    """Close every connection of `client` whenever the sentinels name another primary: redis-py
    asks them only when it opens a connection, and a deposed primary cut off from them keeps
    answering the ones already open."""
    closing: set[asyncio.Task[None]] = set()
    pool = client.connection_pool
    if isinstance(pool, _BlockingSentinelPool):  # always, as built above
        pool.follow(primary)

    def close_all() -> None:
        task = asyncio.get_running_loop().create_task(pool.disconnect())
        closing.add(task)
        task.add_done_callback(closing.discard)

    primary.on_superseded(close_all)


def _sentinel_kwargs(options: RedisOptions, password: str | None) -> dict[str, Any]:
    return {
        "password": password,
        "socket_timeout": options.socket_timeout,
        "socket_connect_timeout": options.connect_timeout,
        "retry": Retry(NoBackoff(), retries=0),
        "decode_responses": True,
    }


@dataclass(frozen=True, slots=True)
class _View:
    """One sentinel's answer about the primary."""

    address: Address
    healthy: bool  # flags just "master", and a ping reply recent enough that no poll missed
    last_ok_ping_ms: int
    down_after_ms: int
    quorum: int
    sentinels: int  # how many it knows, itself included


@dataclass(slots=True)
class _Streak:
    """Since when (by our polls) a sentinel has named the same healthy primary, no poll missed."""

    address: Address
    since: float
    last: float


class SentinelPrimary:
    """The `tracking.Primary` of a Sentinel deployment: the node the sentinels name, trusted for
    the window above after each poll that confirms it."""

    fails_over = True

    def __init__(
        self,
        sentinels: Sequence[Address],
        service: str,
        options: RedisOptions,
        *,
        password: str | None = None,
        poll_seconds: float = 0.25,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not sentinels:
            raise ValueError("at least one sentinel")
        kwargs = _sentinel_kwargs(options, password)
        self._clients = [Redis(host=host, port=port, **kwargs) for host, port in sentinels]
        self._service = service
        self._poll_seconds = poll_seconds
        self._monotonic = monotonic
        self._streaks: list[_Streak | None] = [None] * len(self._clients)
        self._trusted_until: dict[Address, float] = {}
        self._named: Address | None = None
        self._on_superseded: list[Callable[[], object]] = []
        self._errors_logged = False

    async def locate(self) -> Address:
        """The node most sentinels name now."""
        await self.poll()
        if self._named is None:
            raise ConnectionError(f"no sentinel names a primary for {self._service!r}")
        return self._named

    def confirms(self, address: Address) -> bool:
        return self._monotonic() < self._trusted_until.get(address, float("-inf"))

    @property
    def named(self) -> Address | None:
        """The node most sentinels named at the last poll (None before one answered)."""
        return self._named

    def superseded(self, address: Address) -> bool:
        return self._named is not None and self._named != address

    def on_superseded(self, callback: Callable[[], object]) -> None:
        """Call `callback` whenever the sentinels name another node: connections still open
        to the old one (cut off from them, it may still take writes) should be closed."""
        self._on_superseded.append(callback)

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[None]:
        """Polling the sentinels while inside."""
        try:
            async with task_while_serving(self._poll_forever(), "sentinel-poll"):
                yield
        finally:
            for client in self._clients:
                await client.aclose()

    async def _poll_forever(self) -> None:
        while True:
            await self.poll()
            await asyncio.sleep(self._poll_seconds)

    async def poll(self) -> None:
        """Ask every sentinel at once; confirm the node enough of them vouch for."""
        sent = self._monotonic()
        answers = await asyncio.gather(
            *(self._ask(client) for client in self._clients), return_exceptions=True
        )
        self._log_errors([a for a in answers if isinstance(a, BaseException)])
        views = [answer if isinstance(answer, _View) else None for answer in answers]
        answered = [view for view in views if view is not None]
        # Where to connect: the node most of them name, healthy or not (trust is decided below).
        named = Counter(view.address for view in answered)
        before, self._named = self._named, named.most_common(1)[0][0] if named else None
        if before is not None and self._named not in (None, before):
            for callback in self._on_superseded:
                callback()
        for index, view in enumerate(views):
            self._streaks[index] = _extended(self._streaks[index], view, sent)
        vouching = [
            view
            for view, streak in zip(views, self._streaks, strict=True)
            if view is not None and streak is not None and sent - streak.since >= VOTE_MEMORY
        ]
        self._trusted_until = {}  # a node no longer confirmed loses its trust at once
        configured = len(self._clients)
        for address in named:
            healthy = [v for v in answered if v.address == address and v.healthy]
            windows = [
                _all_answered(sent, healthy, answered, configured=configured),
                _trusted_until(
                    sent,
                    [view for view in vouching if view.address == address],
                    answered,
                    configured=configured,
                ),
            ]
            if any(until is not None for until in windows):
                self._trusted_until[address] = max(u for u in windows if u is not None)

    async def _ask(self, client: Redis) -> _View:
        state = await client.sentinel_master(self._service)
        if not isinstance(state, dict):
            raise TypeError(f"SENTINEL MASTER answered {type(state).__name__}")
        flags = set(str(state["flags"]).split(","))
        last_ok_ping_ms = int(state["last-ok-ping-reply"])
        down_after_ms = int(state["down-after-milliseconds"])
        return _View(
            address=(str(state["ip"]), int(state["port"])),
            healthy=flags == {"master"} and last_ok_ping_ms <= down_after_ms - _GAP * 1000,
            last_ok_ping_ms=last_ok_ping_ms,
            down_after_ms=down_after_ms,
            quorum=int(state["quorum"]),
            sentinels=int(state["num-other-sentinels"]) + 1,
        )

    def _log_errors(self, errors: list[BaseException]) -> None:
        """Once per spell of errors: a sentinel that did not answer (or answered nonsense)
        confirms nothing."""
        if errors and not self._errors_logged:
            level = logging.WARNING if isinstance(errors[0], REDIS_FAILURES) else logging.ERROR
            logger.log(level, "a sentinel did not answer (%r); confirming without it", errors[0])
        self._errors_logged = bool(errors)


def _extended(streak: _Streak | None, view: _View | None, sent: float) -> _Streak | None:
    """The sentinel's streak after this poll: broken by no answer, an unhealthy one, another
    primary, or a gap between polls in which it could have called the primary down unseen."""
    if view is None or not view.healthy:
        return None
    if streak is None or streak.address != view.address or sent - streak.last > _GAP:
        return _Streak(view.address, since=sent, last=sent)
    streak.last = sent
    return streak


def _all_answered(
    sent: float, healthy: list[_View], answered: list[_View], *, configured: int
) -> float | None:
    """With every sentinel answering healthy: none can call the primary down (which any
    failover starts with) before its own last ping reply + down-after, votes or no votes."""
    everyone = max(configured, *(view.sentinels for view in answered))
    if len(healthy) < everyone:
        return None
    down_after = min(view.down_after_ms for view in healthy)
    oldest_ping = max(view.last_ok_ping_ms for view in healthy)
    return sent + (down_after * (1 - _MARGIN) - oldest_ping) / 1000


def _trusted_until(
    sent: float, vouching: list[_View], answered: list[_View], *, configured: int
) -> float | None:
    """Until when the node `vouching` name can be trusted (module docstring), or None when
    too few sentinels vouch for it. `configured`: the sentinels we were given."""
    if not vouching:
        return None
    everyone = max(configured, *(view.sentinels for view in answered))
    quorum = min(view.quorum for view in answered)
    # A quorum can be made of every sentinel not vouching plus the `needed` vouching ones
    # whose last ping replies are the oldest; the latest of those decides.
    needed = quorum - (everyone - len(vouching))
    if needed <= 0:
        return None
    down_after = min(view.down_after_ms for view in answered)
    ages = sorted((view.last_ok_ping_ms for view in vouching), reverse=True)
    return sent + (down_after * (1 - _MARGIN) - ages[needed - 1]) / 1000
