"""The brute-force brake shared by every instance: failure counts per peer in Redis.

One key per peer, `thr:<peer>` = failures in the current window, expiring with the window, so
N instances together allow LGT_ALL_MAX_FAILURES, not N times that. The window starts at the
first failure, as in the in-memory throttle.
"""

from __future__ import annotations

import hashlib
import logging
import math

from adapters.redis_blacklist import REDIS_FAILURES, RedisClient
from adapters.throttle import InMemoryFailureThrottle
from domain.ports import FailureThrottle

logger = logging.getLogger(__name__)
_REDIS_FAILED = REDIS_FAILURES
# Atomic, so a count never lives without its expiry: the window runs from the first failure.
_COUNT_FAILURE = """
local failures = redis.call('INCR', KEYS[1])
if redis.call('TTL', KEYS[1]) < 0 then
    redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return failures
"""


class RedisFailureThrottle:
    """Counts in Redis; while Redis fails, `fallback` (this process's memory) counts instead.

    A brake must not become an outage: lgt-all keeps working without Redis, throttled per process.
    """

    def __init__(
        self,
        client: RedisClient,
        *,
        max_failures: int,
        window_seconds: int,
        fallback: InMemoryFailureThrottle,
        prefix: str = "thr:",
    ) -> None:
        self._client = client
        self._max_failures = max_failures
        self._window = window_seconds
        self._fallback = fallback
        self._prefix = prefix

    async def retry_after(self, peer: str) -> int:
        if not self._max_failures:
            return 0
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.get(self._key(peer))
                pipe.pttl(self._key(peer))
                count, pttl = await pipe.execute()
        except _REDIS_FAILED as error:
            _counting_locally(error)
            return await self._fallback.retry_after(peer)
        if count is None or int(count) < self._max_failures:
            return 0
        return max(1, math.ceil(int(pttl) / 1000))

    async def record_failure(self, peer: str) -> None:
        if not self._max_failures:
            return
        try:
            await self._client.eval(_COUNT_FAILURE, 1, self._key(peer), self._window)
        except _REDIS_FAILED as error:
            _counting_locally(error)
            await self._fallback.record_failure(peer)

    async def record_success(self, peer: str) -> None:
        if not self._max_failures:
            return
        try:
            await self._client.delete(self._key(peer))
        except _REDIS_FAILED as error:
            _counting_locally(error)
            await self._fallback.record_success(peer)

    def _key(self, peer: str) -> str:
        # An address is short; anything else a proxy forwarded is hashed to a bounded key.
        if len(peer) > 64:
            peer = hashlib.sha256(peer.encode("utf-8", "surrogatepass")).hexdigest()
        return f"{self._prefix}{peer}"


def _counting_locally(error: Exception) -> None:
    logger.warning("throttle counts in this process: Redis failed (%s)", type(error).__name__)


_: type[FailureThrottle] = RedisFailureThrottle
