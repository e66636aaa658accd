"""Replays of each revoked token counted across the fleet in Redis, one alert per window.

Two keys per token, one hash tag (one Cluster slot): `rpl{<session id>}n` = the replays
counted (living as long as the token could still be presented) and `rpl{<session id>}a`, set
with NX for the window by the one caller that wins the alert. The session id is the opaque
TokenKey.session_id, never the token. Not under the blacklist's `rv` prefixes: the local
caches' tracking would broadcast every count to every instance.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from redis.exceptions import RedisError

from revocation.adapters.redis.client import REDIS_FAILURES, RedisClient, RedisFailures
from revocation.adapters.replay_tally import InMemoryReplayTally
from revocation.domain.ports import ReplayTally
from revocation.domain.replays import Counted, Tally

logger = logging.getLogger(__name__)

# A failing shard, or Redis flapping, would otherwise log a line per replayed token.
WARNING_INTERVAL_SECONDS = 60.0

# -> {total, 1 if this call set the window's alert key}; ARGV[3] = 0: count only (grace).
_ADD = """
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
if ARGV[3] == '0' then
    return {total, 0}
end
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[3]) then
    return {total, 1}
end
return {total, 0}
"""


class RedisReplayTally:
    """The fleet's tally in Redis (a round's script calls in one pipeline); while Redis fails,
    `fallback` counts and elects in this process, so an alert is never lost, only repeated
    once per process at worst."""

    def __init__(
        self,
        client: RedisClient,
        failures: RedisFailures,
        *,
        fallback: InMemoryReplayTally,
        prefix: str = "rpl",
    ) -> None:
        self._client = client
        self._failures = failures
        self._fallback = fallback
        self._prefix = prefix
        self._warned_at: float | None = None  # one warning a minute, not one per replay

    async def add(self, counts: Sequence[Counted]) -> list[Tally]:
        if not counts:
            return []
        pipeline = self._client.pipeline(transaction=False)
        for counted in counts:
            tag = f"{self._prefix}{{{counted.session_id}}}"
            window = counted.alert_window or 0
            pipeline.eval(_ADD, 2, f"{tag}n", f"{tag}a", counted.count, counted.ttl_seconds, window)
        try:
            replies = await pipeline.execute()
            return [_tally(reply) for reply in replies]
        except REDIS_FAILURES as error:
            self._failures.note()
            now = time.monotonic()
            if self._warned_at is None or now - self._warned_at >= WARNING_INTERVAL_SECONDS:
                logger.warning("replays counted in this process: Redis failed (%r)", error)
                self._warned_at = now
            return await self._fallback.add(counts)


def _tally(reply: object) -> Tally:
    if not isinstance(reply, list) or len(reply) != 2:  # a connection out of step
        raise RedisError(f"the tally script answered {type(reply).__name__}")
    return Tally(total=int(reply[0]), alert=reply[1] == 1)


_: type[ReplayTally] = RedisReplayTally
