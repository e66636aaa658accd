"""The "mirror complete" marker: one Redis key a restart or flush takes away with everything else.

A repair sets it to a fresh ticket before it pushes and to `done` after, only if the ticket is
still there: if Redis lost its data meanwhile (or another repair began), `done` is refused and a
later tick repairs again. The key is versioned with the key layout (`client.KeyLayout`): a
marker left by a layout this code does not read never vouches for a mirror it never wrote.
"""

from __future__ import annotations

import secrets
import time

from revocation.adapters.redis.client import (
    MIRROR_DONE,
    RedisClient,
    RedisFailures,
    outlive_leases,
    unavailable_on_error,
)
from revocation.domain.ports import MirrorMarker

# Compare-and-set: only the repair whose ticket is still in the key may declare it done.
_COMPLETE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('SET', KEYS[1], 'done')
    return 1
end
return 0
"""


class RedisMirrorMarker:
    """The marker in Redis (no TTL: only a restart, a flush or an eviction removes it)."""

    def __init__(
        self,
        client: RedisClient,
        failures: RedisFailures,
        *,
        key: bytes,
        settle_seconds: float = 0,
    ) -> None:
        self._client = client
        self._failures = failures
        self._key = key
        # With local caches (REVOCATION_CACHE=local): how long the repair's writes need to
        # reach every cache before any of them may trust Redis alone (the lease).
        self._settle = settle_seconds

    async def is_complete(self) -> bool:
        with unavailable_on_error(self._failures):
            return bool(await self._client.get(self._key) == MIRROR_DONE)

    async def begin(self) -> str:
        ticket = f"pending:{secrets.token_hex(8)}"
        with unavailable_on_error(self._failures):
            await self._client.set(self._key, ticket)
        return ticket

    async def complete(self, ticket: str) -> bool:
        if self._settle:
            await outlive_leases(time.monotonic(), self._settle)  # the pushes were acknowledged
        with unavailable_on_error(self._failures):
            return bool(await self._client.eval(_COMPLETE, 1, self._key, ticket))


__: type[MirrorMarker] = RedisMirrorMarker
