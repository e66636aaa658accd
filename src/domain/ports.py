"""What the use cases need from the outside world; adapters implement these."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from revocation.domain.audit import AuditRecord, Revocation
from revocation.domain.model import (
    BlacklistEntry,
    BlacklistState,
    Claims,
    LoggedEntry,
    LogState,
    TokenKey,
    TokenRecord,
    Watermark,
)
from revocation.domain.replays import Counted, ReplayAlert, Tally


class Clock(Protocol):
    """The current time as Unix seconds, with sub-second precision."""

    def now(self) -> float: ...


class Background(Protocol):
    """Runs work after the caller has answered; failures are logged, never raised."""

    def run(self, name: str, work: Callable[[], Awaitable[object]]) -> None: ...


class TokenCodec(Protocol):
    """Signs tokens and verifies them; raises InvalidToken for anything it refuses."""

    def peek(self, token: str) -> Claims:
        """The claims of a well-formed token, signature NOT checked: only for a fast reject.

        It may hand back the very claims object an earlier `verify` returned only for that same
        token, and only while `verify` would accept it now (the verified-token cache does so);
        the check relies on that to refuse a token it has refused as revoked before
        (RevokedTokens). A codec that makes new claims on every call keeps it trivially."""
        ...

    def verify(self, token: str) -> Claims:
        """The claims of a token whose signature, algorithm and time claims all check out."""
        ...

    def encode(self, claims: Claims) -> str: ...


class TokenLog(Protocol):
    """The durable truth (`user_token_logs` and the watermarks); raises TokenLogUnavailable."""

    async def record(self, record: TokenRecord) -> None:
        """Log a newly issued token; committed when this returns."""
        ...

    async def lookup(self, key: TokenKey, user_id: int) -> LogState:
        """The row of the token's (iss, jti), whichever user it names, and `user_id`'s
        watermark, in one read."""
        ...

    async def block(self, record: TokenRecord, blocked_at: float, revocation: Revocation) -> bool:
        """Block the record's (iss, jti), inserting its row if it was never logged, blocking
        the row that holds it otherwise, whichever user that row names; idempotent.

        True when this call blocked it: then `revocation` is in the audit trail too, written
        in the same transaction (one record per token, however many logouts race).
        """
        ...

    async def revoke_all(self, watermark: Watermark) -> int:
        """Raise the user's watermark, then block every active logged token issued before it.

        Returns how many rows it blocked. The watermark alone is the revocation.
        """
        ...

    async def raise_watermark(self, watermark: Watermark, revocation: Revocation) -> None:
        """Raise the user's watermark (never lower it) and record `revocation` in the audit
        trail, in one transaction committed when this returns; blocks no row: revoke_all with
        the same watermark does that later, off the response path."""
        ...

    async def active_sessions(self, user_id: int, now: float) -> list[TokenRecord]:
        """The user's unblocked, unexpired logged tokens, newest first."""
        ...

    async def purge_expired(self, before: float, batch_size: int) -> int:
        """Delete up to `batch_size` rows that expired before `before`; how many went."""
        ...

    async def blocked_after(self, expires_at: float, row_id: int, limit: int) -> list[TokenRecord]:
        """Up to `limit` blocked rows after (expires_at, row_id) in that order: a keyset page."""
        ...

    async def watermarks_after(
        self, revoked_before: float, user_id: int, limit: int
    ) -> list[Watermark]:
        """Up to `limit` watermarks after (revoked_before, user_id) in that order: a keyset page."""
        ...


class AuditTrail(Protocol):
    """The revocations TokenLog.block and raise_watermark recorded, kept after the token rows
    are purged, until their own retention ends; raises TokenLogUnavailable."""

    async def history(
        self, user_id: int, *, before_id: int | None, limit: int
    ) -> list[AuditRecord]:
        """Up to `limit` of the user's records with ids below `before_id`, newest first."""
        ...

    async def purge_before(self, before: float, batch_size: int) -> int:
        """Delete up to `batch_size` records of revocations before `before`; how many went."""
        ...


class ReplayWatch(Protocol):
    """Takes note of a revoked token presented again with a valid signature (a replay), on the
    request path: no I/O, no waiting, never raises; what follows happens off that path."""

    def noted(self, claims: Claims) -> None: ...


class ReplayTally(Protocol):
    """Counts each revoked token's replays across the fleet and elects one alert per window;
    while its shared store fails, counts and elects in this process. Never raises."""

    async def add(self, counts: Sequence[Counted]) -> list[Tally]:
        """Add each token's replays (all in one round trip where the store is shared) and,
        unless its `alert_window` is None, claim the alert of that window: won by one caller
        per window. One Tally per count, in order."""
        ...


class Blacklist(Protocol):
    """The fast, expiring layer (Redis); raises BlacklistUnavailable."""

    async def lookup(self, key: TokenKey, user_id: int) -> BlacklistState:
        """The entry of the token's (iss, jti) and `user_id`'s watermark, in one round trip."""
        ...

    async def add(self, entries: Sequence[BlacklistEntry]) -> None:
        """Add entries, each with its own TTL, in one round trip."""
        ...

    def revoking(self, entries: Sequence[BlacklistEntry]) -> AbstractAsyncContextManager[None]:
        """Around the durable write of these revocations: adds the entries once the block
        inside has succeeded (nothing if it raised), and returns when every check sees them.

        An adapter may write a "pending: ask the log" mark before the block, so that what a
        check must wait for (a cache lease) runs while the log commits.
        """
        ...

    async def raise_watermark(self, watermark: Watermark, ttl_seconds: int) -> None:
        """Raise the user's watermark (never lower it), living `ttl_seconds`; one round trip."""
        ...

    async def note_logged(self, entries: Sequence[LoggedEntry]) -> None:
        """Keep each entry's "logged" mark for its TTL, in one round trip (`lookup` answers it
        as `logged`). A mark is a fact of the log that never changes while it lives: it waits
        for no cache and no replica."""
        ...


class AppCredentials(Protocol):
    """The configured app id and key of internal callers."""

    def matches(self, app_id: str, app_key: str) -> bool:
        """Whether the pair is right, compared in constant time."""
        ...


class Attempt(Protocol):
    """One reserved comparison of internal credentials; resolve it exactly once."""

    async def succeeded(self) -> None:
        """The credentials matched: the reservation is released and never counts."""
        ...

    async def failed(self) -> None:
        """They did not: the attempt counts as a failure until its window ends."""
        ...

    async def kept(self, seconds: float) -> KeptAttempt | None:
        """They matched, and the reservation is kept, still counted, for the peer's next
        comparison within `seconds`; None when the brake wants it back instead (somebody was
        turned away meanwhile, or the window ends sooner): then it is released, as succeeded()."""
        ...


class KeptAttempt(Protocol):
    """A success's reservation, kept for the same peer's next comparison (one at a time)."""

    def live(self) -> bool:
        """Still surely counted by the brake: a comparison may be made under it now."""
        ...

    async def succeeded(self) -> None:
        """The comparison under it matched, and it is given back: released, never counted."""
        ...

    async def failed(self) -> None:
        """It did not: counted as a failure, as any other."""
        ...


class FailureThrottle(Protocol):
    """The brute-force brake on internal calls, per peer (async: the counts may live in Redis,
    shared by every instance)."""

    async def reserve(self, peer: str) -> Attempt:
        """Reserve one comparison, atomically, before it happens; raises Throttled while the
        peer's failures fill its window. While attempts in flight could still fill it, waits
        (bounded) for them: so however many requests are in flight, at most the limit of wrong
        guesses is ever compared per window, and successes never throttle anyone."""
        ...


class Telemetry(Protocol):
    """What the use cases report for monitoring: counters, security events. Never a token."""

    def token_rejected(self, reason: str) -> None:
        """A check refused a token; `reason` is the error's short code (`revoked`, ...)."""
        ...

    def tokens_revoked(self, count: int, *, scope: str) -> None:
        """`count` logged tokens were blocked; scope `token` (logout) or `user` (logout-all)."""
        ...

    def blacklist_unavailable(self, operation: str) -> None:
        """Redis failed during `operation`; the database decided or holds the write alone."""
        ...

    def internal_auth_failed(self, peer: str, *, throttled: bool) -> None:
        """An internal call from `peer` had wrong credentials, or was refused while throttled."""
        ...

    def revocation_recorded(
        self, user_id: int, session_id: str | None, revocation: Revocation
    ) -> None:
        """A revocation was recorded in the audit trail (`session_id` None: every session)."""
        ...

    def replays_handled(self, count: int, *, outcome: str) -> None:
        """Replays handled off the request path: `grace`, `alerted`, `repeat` (after the
        window's alert), `unknown` (the log knew no revocation, or could not answer), `dropped`."""
        ...

    def replay_alerted(self, alert: ReplayAlert) -> None:
        """A revoked token came back: the one alert of its window, fleet-wide."""
        ...


class MirrorMarker(Protocol):
    """Whether the blacklist still holds all that a full repair pushed (no restart or flush)."""

    async def is_complete(self) -> bool: ...

    async def begin(self) -> str:
        """A repair starts: not complete until `complete(ticket)`; returns that ticket."""
        ...

    async def complete(self, ticket: str) -> bool:
        """The repair is done; False if Redis was reset or another repair began meanwhile."""
        ...
