"""Which tokens are logged, told to the fast layer, so a check of a token this process has
never seen needs no database read where the fast layer answers alone.

A logged row's user and issue time never change, and the row stays until its token has expired
(plus leeway): a mark that lives no longer than that is always true, however late it is written
or read. It proves only that the token is logged; whether it is revoked is still the complete
mirror's word (its entry and its user's watermark), read in the same lookup. A mark missing
(never written, lost in a restart or a failover) costs one database read, never a wrong answer.
"""

from __future__ import annotations

from revocation.domain.errors import BlacklistUnavailable
from revocation.domain.model import LoggedEntry, LoggedMark, TokenRecord
from revocation.domain.policy import BlacklistPolicy
from revocation.domain.ports import Blacklist, Clock, Telemetry


class LoggedMirror:
    """Puts a logged row's mark in the fast layer, where checks take its word (the policy)."""

    def __init__(
        self, *, blacklist: Blacklist, policy: BlacklistPolicy, clock: Clock, telemetry: Telemetry
    ) -> None:
        self._blacklist = blacklist
        self._policy = policy
        self._clock = clock
        self._telemetry = telemetry

    async def note(self, record: TokenRecord) -> None:
        """Best effort: the row is durable already, and a missing mark only costs a read."""
        if not self._policy.redis_answers_alone or record.is_blocked:
            return
        ttl = self._policy.logged_ttl_for(record.expires_at, self._clock.now())
        if ttl <= 0:
            return
        mark = LoggedMark(record.user_id, record.issued_at)
        try:
            await self._blacklist.note_logged([LoggedEntry(record.key, mark, ttl)])
        except BlacklistUnavailable:
            self._telemetry.blacklist_unavailable("note_logged")
