"""The brute-force brake shared by every instance: per-peer windows in Redis.

One hash per peer, `thr:<peer>` = {w: the window's id, f: failures, r: attempts in flight},
expiring with the window, so N instances together compare at most LGT_ALL_MAX_FAILURES wrong
guesses per window, not N times that. Each step is one script, atomic on the server: a
reservation is checked and taken in one step, however many requests race for it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import secrets

from redis.exceptions import RedisError

from revocation.adapters.redis.client import REDIS_FAILURES, RedisClient, RedisFailures
from revocation.adapters.throttle import InMemoryFailureThrottle, NoAttempt, busy_polls
from revocation.domain.errors import Throttled
from revocation.domain.ports import Attempt, FailureThrottle

logger = logging.getLogger(__name__)

# -> {1, window id}: reserved; {0, ms left}: throttled; {2, ""}: busy (attempts in flight
# could still fill the window: ask again). A new window starts at the peer's first attempt.
_RESERVE = """
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
if failures + in_flight >= tonumber(ARGV[1]) then
    return {2, ''}
end
redis.call('HINCRBY', KEYS[1], 'r', 1)
return {1, state[1]}
"""
# Resolves one reservation of window ARGV[1] (a window that ended has nothing to resolve);
# ARGV[2] = 1 keeps it as a failure.
_RESOLVE = """
if redis.call('HGET', KEYS[1], 'w') ~= ARGV[1] then
    return 0
end
redis.call('HINCRBY', KEYS[1], 'r', -1)
if ARGV[2] == '1' then
    redis.call('HINCRBY', KEYS[1], 'f', 1)
end
return 1
"""
_RESERVED, _THROTTLED = 1, 0


class _SharedAttempt:
    __slots__ = ("_client", "_failures", "_key", "_window")

    def __init__(
        self, client: RedisClient, failures: RedisFailures, key: str, window: bytes
    ) -> None:
        self._client = client
        self._failures = failures
        self._key = key
        self._window = window

    async def succeeded(self) -> None:
        await self._resolve(failed=False)

    async def failed(self) -> None:
        await self._resolve(failed=True)

    async def _resolve(self, *, failed: bool) -> None:
        try:
            await self._client.eval(_RESOLVE, 1, self._key, self._window, int(failed))
        except REDIS_FAILURES as error:
            self._failures.note()
            # The reservation stays counted in Redis until its window ends: the safe side.
            logger.warning("throttle could not resolve an attempt: %s", type(error).__name__)


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
        key = self._key(peer)
        for delay in busy_polls():
            try:
                verdict, detail = await self._reserve_once(key)
            except REDIS_FAILURES as error:
                self._failures.note()
                logger.warning("throttle counts in this process: Redis failed (%r)", error)
                return await self._fallback.reserve(peer)
            if verdict == _RESERVED and isinstance(detail, bytes):
                return _SharedAttempt(self._client, self._failures, key, detail)
            if verdict == _THROTTLED and isinstance(detail, int):
                raise Throttled(max(1, math.ceil(detail / 1000)))
            await asyncio.sleep(delay)
        raise Throttled(1)

    async def _reserve_once(self, key: str) -> tuple[object, object]:
        window = secrets.token_hex(8)
        reply = await self._client.eval(
            _RESERVE, 1, key, self._max_failures, self._window_ms, window
        )
        if not isinstance(reply, list) or len(reply) != 2:  # a connection out of step
            raise RedisError(f"the reservation script answered {type(reply).__name__}")
        return reply[0], reply[1]

    def _key(self, peer: str) -> str:
        # An address is short; anything else a proxy forwarded is hashed to a bounded key.
        if len(peer) > 64:
            peer = hashlib.sha256(peer.encode("utf-8", "surrogatepass")).hexdigest()
        return f"{self._prefix}{peer}"


_: type[FailureThrottle] = RedisFailureThrottle
