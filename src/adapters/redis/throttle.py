"""The brute-force brake shared by every instance: per-peer windows in Redis.

One hash per peer, `thr:<peer>`, expiring with the window: `w` the window's id, `f` failures,
`b` set once a reservation had to wait, one `a:<id>` field per reservation in flight, and one
`k:<id>` field per kept reservation (a success's, kept for the peer's next comparison) holding
the server time (ms) its lease lapses at. So N instances together compare at most
LGT_ALL_MAX_FAILURES wrong guesses per window, not N times that. Each step is one script, atomic
on the server: a reservation is checked and taken in one step, however many requests race for
it. Each script names the reservation it acts on, so one the client sends twice (its retry on a
dropped connection) changes nothing the second time, except a failure, which may count twice:
the safe side.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import secrets
import time

from revocation.adapters.redis.client import REDIS_FAILURES, RedisClient, RedisFailures
from revocation.adapters.throttle import InMemoryFailureThrottle, NoAttempt, busy_polls
from revocation.domain.errors import Throttled
from revocation.domain.ports import Attempt, FailureThrottle, KeptAttempt

logger = logging.getLogger(__name__)

# Reservations in flight: the `a:` fields, the kept ones whose lease has not lapsed (the lapsed
# ones deleted on the way), and `r`, the count an older version of this brake kept. New windows
# still get an `r` (0): an older instance's scripts read it, during a rolling upgrade.
_IN_FLIGHT = """
local function now_ms()
    local time = redis.call('TIME')
    return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local function in_flight(key)
    local now, fields, count = now_ms(), redis.call('HGETALL', key), 0
    for i = 1, #fields, 2 do
        local kind = string.sub(fields[i], 1, 2)
        if kind == 'a:' then
            count = count + 1
        elseif kind == 'k:' then
            if tonumber(fields[i + 1]) > now then
                count = count + 1
            else
                redis.call('HDEL', key, fields[i])
            end
        elseif fields[i] == 'r' then
            count = count + math.max(0, tonumber(fields[i + 1]))
        end
    end
    return count
end
"""
# Reservation a:ARGV[4] -> {1, window id}: reserved (or was already); {0, ms left}: throttled;
# {2, ""}: busy (reservations in flight could still fill the window: ask again). A window
# (ARGV[2] ms, id ARGV[3]) starts at the peer's first attempt.
_RESERVE = (
    _IN_FLIGHT
    + """
local state = redis.call('HMGET', KEYS[1], 'w', 'f')
local reservation = 'a:' .. ARGV[4]
if not state[1] then
    redis.call('HSET', KEYS[1], 'w', ARGV[3], 'f', 0, 'r', 0, reservation, 1)
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {1, ARGV[3]}
end
if redis.call('HEXISTS', KEYS[1], reservation) == 1 then
    return {1, state[1]}
end
if tonumber(state[2]) >= tonumber(ARGV[1]) then
    return {0, redis.call('PTTL', KEYS[1])}
end
if tonumber(state[2]) + in_flight(KEYS[1]) >= tonumber(ARGV[1]) then
    redis.call('HSET', KEYS[1], 'b', 1)
    return {2, ''}
end
redis.call('HSET', KEYS[1], reservation, 1)
return {1, state[1]}
"""
)
# A failure counts in the peer's window, or in a new one (ARGV[3] ms, id ARGV[4]) if its own is
# gone (ended, or lost with Redis's data).
_COUNT_FAILURE = """
local function count_failure(key, window_ms, new_window)
    if redis.call('EXISTS', key) == 1 then
        redis.call('HINCRBY', key, 'f', 1)
    else
        redis.call('HSET', key, 'w', new_window, 'f', 1, 'r', 0)
        redis.call('PEXPIRE', key, window_ms)
    end
end
"""
# Resolves reservation ARGV[1] (an `a:` in flight, or a `k:` kept); ARGV[2] = 1: as a failure,
# which counts even if the reservation is gone by now (its window ended, its lease lapsed).
_RESOLVE = (
    _COUNT_FAILURE
    + """
redis.call('HDEL', KEYS[1], ARGV[1])
if ARGV[2] == '1' then
    count_failure(KEYS[1], ARGV[3], ARGV[4])
end
return 1
"""
)
# Keeps a success of reservation a:ARGV[1] as k:ARGV[3], its lease ARGV[2] ms -> 1; 0 when it is
# released instead: somebody had to wait this window, or the window ends sooner, or is gone.
_KEEP = (
    _IN_FLIGHT
    + """
local kept = 'k:' .. ARGV[3]
if redis.call('HEXISTS', KEYS[1], kept) == 1 then
    return 1
end
local held = redis.call('HDEL', KEYS[1], 'a:' .. ARGV[1])
if held == 0 or redis.call('HEXISTS', KEYS[1], 'b') == 1
        or redis.call('PTTL', KEYS[1]) <= tonumber(ARGV[2]) then
    return 0
end
redis.call('HSET', KEYS[1], kept, now_ms() + tonumber(ARGV[2]))
return 1
"""
)


class _Shared:
    """What every attempt of one peer needs to resolve itself."""

    __slots__ = ("client", "failures", "fallback", "key", "lease_margin", "peer", "window_ms")

    def __init__(
        self,
        client: RedisClient,
        failures: RedisFailures,
        fallback: InMemoryFailureThrottle,
        *,
        peer: str,
        key: str,
        window_ms: int,
        lease_margin: float,
    ) -> None:
        self.client = client
        self.failures = failures
        self.fallback = fallback
        self.peer = peer
        self.key = key
        self.window_ms = window_ms
        self.lease_margin = lease_margin  # seconds a kept lease outlives its use here

    async def run(self, script: str, *args: str | bytes | int) -> object:
        """The script's answer; None when Redis failed."""
        try:
            return await self.client.eval(script, 1, self.key, *args)
        except REDIS_FAILURES as error:
            self.failures.note()
            logger.warning("throttle could not resolve an attempt: %s", type(error).__name__)
            return None

    async def resolve(self, reservation: str, *, failed: bool) -> None:
        """Released, or counted as a failure. If Redis cannot take it, a reservation in flight
        stays counted there until its window ends, a kept one until its lease lapses: so a
        failure Redis did not take counts in this process's brake too."""
        args = (reservation, int(failed), self.window_ms, secrets.token_hex(8))
        if await self.run(_RESOLVE, *args) is None and failed:
            self.fallback.count_failure(self.peer)


class _SharedAttempt:
    __slots__ = ("_name", "_shared")

    def __init__(self, shared: _Shared, name: str) -> None:
        self._shared = shared
        self._name = name

    async def succeeded(self) -> None:
        await self._shared.resolve("a:" + self._name, failed=False)

    async def failed(self) -> None:
        await self._shared.resolve("a:" + self._name, failed=True)

    async def kept(self, seconds: float) -> KeptAttempt | None:
        kept_name = secrets.token_hex(8)
        # The lease outlives this process's use of it by a margin longer than the client's
        # timeouts: a failure compared under it at the last moment reaches Redis before it lapses.
        lease_ms = math.floor((seconds + self._shared.lease_margin) * 1000)
        asked = time.monotonic()
        if await self._shared.run(_KEEP, self._name, lease_ms, kept_name) != 1:
            return None
        # The lease lapses at Redis's now + lease_ms, measured after this request left: this
        # process stops using it `seconds` after it asked, well before.
        return _KeptShared(self._shared, "k:" + kept_name, until=asked + seconds)


class _KeptShared:
    __slots__ = ("_reservation", "_shared", "_until")

    def __init__(self, shared: _Shared, reservation: str, *, until: float) -> None:
        self._shared = shared
        self._reservation = reservation
        self._until = until

    def live(self) -> bool:
        """Until its time here is up. Somebody turned away meanwhile is noticed at the next
        keep (a keep refuses then), so another instance waits half a second at most."""
        return time.monotonic() < self._until

    async def succeeded(self) -> None:
        await self._shared.resolve(self._reservation, failed=False)

    async def failed(self) -> None:
        await self._shared.resolve(self._reservation, failed=True)


class RedisFailureThrottle:
    """Windows in Redis; while Redis fails, `fallback` (this process's memory) decides.

    A brake must not become an outage: lgt-all keeps working without Redis, braked per process.
    """

    def __init__(
        self,
        client: RedisClient,
        failures: RedisFailures,
        *,
        max_failures: int,
        window_seconds: int,
        fallback: InMemoryFailureThrottle,
        prefix: str = "thr:",
        lease_margin_seconds: float = 5.0,
    ) -> None:
        self._client = client
        self._failures = failures
        self._max_failures = max_failures
        self._window_ms = window_seconds * 1000
        self._fallback = fallback
        self._prefix = prefix
        self._lease_margin = lease_margin_seconds

    async def reserve(self, peer: str) -> Attempt:
        if not self._max_failures:
            return NoAttempt()
        shared = _Shared(
            self._client,
            self._failures,
            self._fallback,
            peer=peer,
            key=self._key(peer),
            window_ms=self._window_ms,
            lease_margin=self._lease_margin,
        )
        name = secrets.token_hex(8)  # the same for every poll: a retried one is one reservation
        for delay in busy_polls():
            window = secrets.token_hex(8)
            try:
                reply = await self._client.eval(
                    _RESERVE, 1, shared.key, self._max_failures, self._window_ms, window, name
                )
            except REDIS_FAILURES as error:
                self._failures.note()
                logger.warning("throttle counts in this process: Redis failed (%r)", error)
                return await self._fallback.reserve(peer)
            match reply:
                case [1, bytes()]:
                    return _SharedAttempt(shared, name)
                case [0, int(ms_left)]:
                    raise Throttled(max(1, math.ceil(ms_left / 1000)))
                case [2, _]:
                    await asyncio.sleep(delay)
                case _:  # a connection out of step
                    self._failures.note()
                    logger.warning("the reservation script answered %s", type(reply).__name__)
                    return await self._fallback.reserve(peer)
        raise Throttled(1)

    def _key(self, peer: str) -> str:
        # An address is short; anything else a proxy forwarded is hashed to a bounded key.
        if len(peer) > 64:
            peer = hashlib.sha256(peer.encode("utf-8", "surrogatepass")).hexdigest()
        return f"{self._prefix}{peer}"


_: type[FailureThrottle] = RedisFailureThrottle
