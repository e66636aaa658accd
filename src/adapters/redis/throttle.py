"""The brute-force brake shared by every instance: per-peer windows in Redis.

One hash per peer, `thr:<peer>`, expiring with the window: `w` the window's id, `f` failures,
`r` attempts in flight, `b` set once a reservation had to wait, and one `k:<id>` field per kept
reservation (a success's, kept for the peer's next comparison) holding the server time (ms) it
lapses at. So N instances together compare at most LGT_ALL_MAX_FAILURES wrong guesses per
window, not N times that. Each step is one script, atomic on the server: a reservation is checked
and taken in one step, however many requests race for it.
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

# Kept reservations still counted (their `k:` fields), the lapsed ones deleted on the way.
_LIVE_KEPT = """
local function live_kept(key)
    local time = redis.call('TIME')
    local now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
    local fields, live = redis.call('HGETALL', key), 0
    for i = 1, #fields, 2 do
        if string.sub(fields[i], 1, 2) == 'k:' then
            if tonumber(fields[i + 1]) > now_ms then
                live = live + 1
            else
                redis.call('HDEL', key, fields[i])
            end
        end
    end
    return live, now_ms
end
"""
# -> {1, window id}: reserved; {0, ms left}: throttled; {2, ""}: busy (attempts in flight, kept
# ones included, could still fill the window: ask again). A window starts at the peer's first
# attempt.
_RESERVE = (
    _LIVE_KEPT
    + """
local state = redis.call('HMGET', KEYS[1], 'w', 'f', 'r')
if not state[1] then
    redis.call('HSET', KEYS[1], 'w', ARGV[3], 'f', 0, 'r', 1)
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {1, ARGV[3]}
end
local failures, in_flight = tonumber(state[2]), tonumber(state[3])
if failures >= tonumber(ARGV[1]) then
    return {0, redis.call('PTTL', KEYS[1])}
end
if failures + in_flight + live_kept(KEYS[1]) >= tonumber(ARGV[1]) then
    redis.call('HSET', KEYS[1], 'b', 1)
    return {2, ''}
end
redis.call('HINCRBY', KEYS[1], 'r', 1)
return {1, state[1]}
"""
)
# Resolves one reservation of window ARGV[1]; ARGV[2] = 1 keeps it as a failure. A failure
# whose window is gone (ended, or lost with Redis's data) still counts, in the window there is
# now or in a new one (ARGV[3] ms, id ARGV[4]).
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
_RESOLVE = (
    _COUNT_FAILURE
    + """
if redis.call('HGET', KEYS[1], 'w') == ARGV[1] then
    redis.call('HINCRBY', KEYS[1], 'r', -1)
end
if ARGV[2] == '1' then
    count_failure(KEYS[1], ARGV[3], ARGV[4])
end
return 1
"""
)
# A success of window ARGV[1] kept as field k:ARGV[3] for ARGV[2] ms -> 1; 0 when it is released
# instead: somebody had to wait this window, or the window ends sooner (or is gone).
_KEEP = (
    _LIVE_KEPT
    + """
local state = redis.call('HMGET', KEYS[1], 'w', 'b')
if state[1] ~= ARGV[1] then
    return 0
end
redis.call('HINCRBY', KEYS[1], 'r', -1)
if state[2] or redis.call('PTTL', KEYS[1]) <= tonumber(ARGV[2]) then
    return 0
end
local _, now_ms = live_kept(KEYS[1])
redis.call('HSET', KEYS[1], 'k:' .. ARGV[3], now_ms + tonumber(ARGV[2]))
return 1
"""
)
# Gives back kept reservation k:ARGV[1]; ARGV[2] = 1 counts it as a failure.
_RESOLVE_KEPT = (
    _COUNT_FAILURE
    + """
redis.call('HDEL', KEYS[1], 'k:' .. ARGV[1])
if ARGV[2] == '1' then
    count_failure(KEYS[1], ARGV[3], ARGV[4])
end
return 1
"""
)


class _Shared:
    """What every attempt needs to resolve itself in Redis."""

    __slots__ = ("client", "failures", "key", "window_ms")

    def __init__(
        self, client: RedisClient, failures: RedisFailures, key: str, window_ms: int
    ) -> None:
        self.client = client
        self.failures = failures
        self.key = key
        self.window_ms = window_ms

    async def run(self, script: str, *args: str | bytes | int) -> object:
        """The script's answer; None when Redis failed (a reservation then stays counted in
        Redis until its window ends, or its lease lapses: the safe side)."""
        try:
            return await self.client.eval(script, 1, self.key, *args)
        except REDIS_FAILURES as error:
            self.failures.note()
            logger.warning("throttle could not resolve an attempt: %s", type(error).__name__)
            return None

    async def resolve(self, script: str, name: bytes | str, *, failed: bool) -> None:
        await self.run(script, name, int(failed), self.window_ms, secrets.token_hex(8))


class _SharedAttempt:
    __slots__ = ("_shared", "_window")

    def __init__(self, shared: _Shared, window: bytes) -> None:
        self._shared = shared
        self._window = window

    async def succeeded(self) -> None:
        await self._shared.resolve(_RESOLVE, self._window, failed=False)

    async def failed(self) -> None:
        await self._shared.resolve(_RESOLVE, self._window, failed=True)

    async def kept(self, seconds: float) -> KeptAttempt | None:
        name, lease_ms = secrets.token_hex(8), math.floor(seconds * 1000)
        asked = time.monotonic()
        if await self._shared.run(_KEEP, self._window, lease_ms, name) != 1:
            return None
        # The lease lapses on the server at its own clock's now + lease_ms, measured after this
        # request left: the same span counted from before it ends no later.
        return _KeptShared(self._shared, name, until=asked + lease_ms / 1000)


class _KeptShared:
    __slots__ = ("_name", "_shared", "_until")

    def __init__(self, shared: _Shared, name: str, *, until: float) -> None:
        self._shared = shared
        self._name = name
        self._until = until

    def live(self) -> bool:
        return time.monotonic() < self._until

    async def succeeded(self) -> None:
        await self._shared.resolve(_RESOLVE_KEPT, self._name, failed=False)

    async def failed(self) -> None:
        await self._shared.resolve(_RESOLVE_KEPT, self._name, failed=True)


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
    ) -> None:
        self._client = client
        self._failures = failures
        self._max_failures = max_failures
        self._window_ms = window_seconds * 1000
        self._fallback = fallback
        self._prefix = prefix

    async def reserve(self, peer: str) -> Attempt:
        if not self._max_failures:
            return NoAttempt()
        shared = _Shared(self._client, self._failures, self._key(peer), self._window_ms)
        for delay in busy_polls():
            window = secrets.token_hex(8)
            try:
                reply = await self._client.eval(
                    _RESERVE, 1, shared.key, self._max_failures, self._window_ms, window
                )
            except REDIS_FAILURES as error:
                self._failures.note()
                logger.warning("throttle counts in this process: Redis failed (%r)", error)
                return await self._fallback.reserve(peer)
            match reply:
                case [1, bytes(reserved)]:
                    return _SharedAttempt(shared, reserved)
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
