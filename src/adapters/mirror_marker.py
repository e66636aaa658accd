"""The "mirror complete" marker: one Redis key a restart or flush takes away with everything else.

A repair sets it to a fresh ticket before it pushes and to `done` after, only if the ticket is
still there: if Redis lost its data meanwhile (or another repair began), `done` is refused and a
later tick repairs again.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from revocation.adapters.local_blacklist import outlive_leases
from revocation.adapters.redis_blacklist import MIRROR_DONE as _DONE
from revocation.adapters.redis_blacklist import REDIS_FAILURES
from revocation.domain.errors import BlacklistUnavailable
from revocation.domain.ports import MirrorMarker

# Versioned with the blacklist's key layout: a marker left by a layout this code does not read
# must not vouch for a mirror it never wrote (version 2: blocked entries keyed by the pair).
MARKER_KEY = b"rv:mirror:2"
# Compare-and-set: only the repair whose ticket is still in the key may declare it done.
_COMPLETE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('SET', KEYS[1], 'done')
    return 1
end
return 0
"""


@contextlib.contextmanager
def _unavailable_on_error() -> Iterator[None]:
    try:
        yield
    except REDIS_FAILURES as error:
        raise BlacklistUnavailable(f"redis: {type(error).__name__}: {error}") from error


class RedisMirrorMarker:
    """The marker in Redis (no TTL: only a restart, a flush or an eviction removes it)."""

    def __init__(
        self, client: Redis | RedisCluster, *, key: bytes = MARKER_KEY, settle_seconds: float = 0
    ) -> None:
        self._client = client
        self._key = key
        # With local caches (REVOCATION_CACHE=local): how long the repair's writes need to
        # reach every cache before any of them may trust Redis alone (the lease).
        self._settle = settle_seconds

    async def is_complete(self) -> bool:
        with _unavailable_on_error():
            return bool(await self._client.get(self._key) == _DONE)

    async def begin(self) -> str:
        ticket = f"pending:{secrets.token_hex(8)}"
        with _unavailable_on_error():
            await self._client.set(self._key, ticket)
        return ticket

    async def complete(self, ticket: str) -> bool:
        if self._settle:
            await outlive_leases(time.monotonic(), self._settle)  # the pushes were acknowledged
        with _unavailable_on_error():
            return bool(await self._client.eval(_COMPLETE, 1, self._key, ticket))


class InMemoryMirrorMarker:
    """The marker's semantics in one process; `reset()` plays a Redis restart."""

    def __init__(self) -> None:
        self.state: str | None = None

    async def is_complete(self) -> bool:
        return self.state == "done"

    async def begin(self) -> str:
        self.state = f"pending:{secrets.token_hex(8)}"
        return self.state

    async def complete(self, ticket: str) -> bool:
        if self.state != ticket:
            return False
        self.state = "done"
        return True

    def reset(self) -> None:
        self.state = None


_: MirrorMarker = InMemoryMirrorMarker()
__: type[MirrorMarker] = RedisMirrorMarker
