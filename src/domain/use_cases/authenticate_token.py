"""The check every protected request pays for: blacklist, then signature, then the log."""

from __future__ import annotations

import string
from collections.abc import Awaitable, Callable
from typing import TypeVar

from revocation.domain.errors import (
    BlacklistUnavailable,
    InvalidToken,
    TokenNotLogged,
    TokenRevoked,
    Unauthorized,
)
from revocation.domain.logged_mirror import LoggedMirror
from revocation.domain.logged_tokens import LoggedTokens
from revocation.domain.model import BlacklistEntry, BlacklistState, Claims, LogState
from revocation.domain.policy import BlacklistPolicy
from revocation.domain.ports import (
    Blacklist,
    Clock,
    ReplayWatch,
    Telemetry,
    TokenCodec,
    TokenLog,
)
from revocation.domain.revoked_tokens import RevokedTokens

Given = TypeVar("Given", str, str | None)  # a bare token, or an Authorization header
MAX_TOKEN_LENGTH = 8192  # far above any real JWT; refuses megabyte headers before decoding
# RFC 6750 b64token, `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`: its
# characters before the padding.
_B64_TOKEN_CHARACTERS = (string.ascii_letters + string.digits + "-._~+/").encode()


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header (scheme case-insensitive)."""
    if not authorization:
        raise InvalidToken("no Authorization header")
    scheme, _, token = authorization.partition(" ")
    token = token.strip(" ")
    if scheme.lower() != "bearer" or not token:
        raise InvalidToken("not a Bearer credential")
    return well_formed(token)


def well_formed(token: str) -> str:
    """The token if it could be a JWT we issued (a b64token, of bounded length)."""
    if len(token) > MAX_TOKEN_LENGTH or not is_b64token(token):
        raise InvalidToken("malformed bearer token")
    return token


def is_b64token(token: str) -> bool:
    """Whether `token` is a b64token: what `[A-Za-z0-9\\-._~+/]+=*` matches, for about 70 % of
    a regular expression's cost on every request (`bytes.translate` deletes the b64token
    characters in C: anything left is not one)."""
    body = token.rstrip("=")
    return (
        body.isascii() and body != "" and not body.encode().translate(None, _B64_TOKEN_CHARACTERS)
    )


class AuthenticateToken:
    """The spec's flow: Redis blacklist and watermark → JWT signature and claims → database.

    The fast layer is read first, but its "revoked" is answered only once the signature has
    verified: a forged token is refused as invalid whatever its victim's state, so no one
    learns from the answer, its time or its metrics whether (or when) another user logged out.

    Where the policy lets the fast layer answer alone, the database step is skipped when its
    mirror is complete and covers the token, and the fast layer (its logged mark) or this
    process already knows the token is logged (and when it was issued, for a watermark in its
    second): then the log could only repeat what the mirror said. A row the log shows logged is
    marked in the fast layer, so each token costs the fleet one database read at most.

    A revoked token whose signature verified is a replay: noted (ReplayWatch) for the alerts,
    which cost the request nothing more. Its claims are remembered (RevokedTokens): a revocation
    is never undone, so the next time the codec's peek hands back those very claims (the same
    token, which would verify now) it is refused without the fast layer, the log or a verify.
    """

    def __init__(
        self,
        *,
        codec: TokenCodec,
        blacklist: Blacklist,
        token_log: TokenLog,
        telemetry: Telemetry,
        policy: BlacklistPolicy,
        clock: Clock,
        logged_tokens: LoggedTokens,
        logged_mirror: LoggedMirror,
        revoked_tokens: RevokedTokens,
        replays: ReplayWatch,
        require_logged: bool = True,
        unlogged_iat_skew_seconds: int = 0,
    ) -> None:
        self._codec = codec
        self._telemetry = telemetry
        self._blacklist = blacklist
        self._token_log = token_log
        self._policy = policy
        self._clock = clock
        self._logged = logged_tokens
        self._logged_mirror = logged_mirror
        self._revoked = revoked_tokens
        self._refused_by_id = revoked_tokens.refused_by_id
        self._replays = replays
        self._require_logged = require_logged
        self._skew = unlogged_iat_skew_seconds

    async def __call__(self, *, authorization: str | None) -> Claims:
        return _claims_or_raise(await self.verdict(authorization=authorization))

    def verdict(self, *, authorization: str | None) -> Awaitable[Claims | Unauthorized]:
        """The check, its refusal returned instead of raised: a gateway answers a flood of
        revoked tokens with it, and a raise through the check's frames cost a refusal more than
        an acceptance. The fast layer's and the log's failures (503s) are still raised.

        Not a coroutine itself: it hands back the check's own, one frame fewer per request."""
        return self._verdict_of(bearer_token, authorization)

    async def check_token(self, *, token: str) -> Claims:
        """The same check for a token given alone (OAuth introspection sends it in a form)."""
        return _claims_or_raise(await self._verdict_of(well_formed, token))

    async def _verdict_of(
        self, token_in: Callable[[Given], str], given: Given
    ) -> Claims | Unauthorized:
        """The check of the token `token_in(given)` finds; every refusal counted once."""
        try:
            verdict = await self._check(token_in(given))
        except Unauthorized as rejection:
            self._telemetry.token_rejected(rejection.reason)
            return rejection  # from here: no local of this frame keeps it (and its traceback)
        if isinstance(verdict, Unauthorized):
            self._telemetry.token_rejected(verdict.reason)
        return verdict

    async def _check(self, token: str) -> Claims | TokenRevoked:
        # 1. Redis: the pair's entry and the user's watermark (answered once step 2 passed).
        peeked = self._codec.peek(token)
        refused = self._refused_by_id(id(peeked))
        if refused is not None:
            # Claims a verify returned, handed back by the peek: the same token, which would
            # verify now (the port's promise). Refused before, so revoked for good.
            self._replays.noted(peeked)
            return TokenRevoked(refused[1])
        try:
            fast: BlacklistState | None = await self._blacklist.lookup(peeked.key, peeked.user_id)
        except BlacklistUnavailable:
            self._telemetry.blacklist_unavailable("lookup")  # the token log decides alone
            fast = None
        # 2. The JWT: signature, algorithm and claims.
        claims = self._codec.verify(token)
        try:
            if fast is not None:
                revoked = _revoked_in(fast, claims)
                if revoked is not None:
                    self._refused(claims, revoked)
                    return revoked
                if self._answered_by_mirror(claims, fast):
                    return claims
            # 3. The database: the token is logged (or, in not-blocked mode, not blocked), live.
            await self._database_step(claims, fast)
        except TokenRevoked as revoked:
            self._refused(claims, revoked)
            raise
        return claims  # 4. Allow.

    def _refused(self, claims: Claims, revoked: TokenRevoked) -> None:
        """A revoked token whose signature verified: a replay, and refused for good."""
        self._replays.noted(claims)
        self._revoked.remember(claims, str(revoked))

    async def _database_step(self, claims: Claims, fast: BlacklistState | None) -> None:
        state = await self._token_log.lookup(claims.key, claims.user_id)
        record = state.record
        # A blocked row is not remembered as logged: the mirror would then answer for the token
        # alone next time, and if it missed the block (below) it would let the token in.
        if record is not None and record.user_id == claims.user_id and not record.is_blocked:
            self._logged.remember(record)
            if fast is not None and fast.logged is None:
                await self._logged_mirror.note(record)
        try:
            self._reject_unless_logged_live(claims, state)
        except TokenRevoked:
            if fast is not None and fast.complete:
                await self._mirror_missed_revocation(claims, state)
            raise

    async def _mirror_missed_revocation(self, claims: Claims, state: LogState) -> None:
        """The log knows a revocation the complete mirror doesn't (a logout answered 503, or is
        still writing): put it in the fast layer now, so instances that trust it alone see it."""
        now = self._clock.now()
        try:
            if state.record is not None and state.record.is_blocked:
                ttl = self._policy.ttl_for(claims.expires_at, now)
                await self._blacklist.add([BlacklistEntry(claims.key, ttl)])
            elif state.watermark is not None:
                ttl = self._policy.watermark_ttl_seconds
                await self._blacklist.raise_watermark(state.watermark, ttl)
        except BlacklistUnavailable:
            self._telemetry.blacklist_unavailable("mirror_missed_revocation")

    def _answered_by_mirror(self, claims: Claims, fast: BlacklistState) -> bool:
        """True when the complete mirror, and what this process knows, show the token live."""
        if fast.token_pending:  # a logout of it is committing: only the log knows
            return False
        if not (fast.complete and self._policy.mirror_covers(claims)):
            return False
        watermark = fast.watermark
        if not self._require_logged:
            # Unlogged tokens are welcome; only a watermark near the token's `iat` (in its
            # second, or within the issuer's skew) needs the log, which knows if it is logged.
            return watermark is None or not watermark.kills_unlogged_iat(
                claims.issued_at, self._skew
            )
        issued_at = self._issued_at(claims, fast)
        if issued_at is None:
            return False  # never seen in the log by this process: ask it once
        if watermark and watermark.kills_issued_at(issued_at):
            raise TokenRevoked("token predates its user's logout-all")
        return True

    def _issued_at(self, claims: Claims, fast: BlacklistState) -> float | None:
        """The logged token's precise issue time, as the fast layer or this process knows it."""
        mark = fast.logged
        if mark is not None and mark.user_id == claims.user_id:
            return mark.issued_at
        return self._logged.issued_at(claims.key, claims.user_id, self._clock.now())

    def _reject_unless_logged_live(self, claims: Claims, state: LogState) -> None:
        record, watermark = state.record, state.watermark
        if record is not None and record.is_blocked:
            raise TokenRevoked("its (iss, jti) is blocked in the token log")
        if record is not None and record.user_id != claims.user_id:
            record = None  # another user's token was logged with this pair, not this one
        if record is None:
            if self._require_logged:
                raise TokenNotLogged("token is not in the token log")
            if watermark and watermark.kills_unlogged_iat(claims.issued_at, self._skew):
                raise TokenRevoked("unlogged token predates its user's logout-all")
            return
        if watermark and watermark.kills_issued_at(record.issued_at):
            raise TokenRevoked("token predates its user's logout-all")


def _claims_or_raise(verdict: Claims | Unauthorized) -> Claims:
    if isinstance(verdict, Unauthorized):
        try:
            raise verdict
        finally:
            del verdict  # a raised error held by a local of a frame in its traceback: a cycle
    return verdict


def _revoked_in(fast: BlacklistState, claims: Claims) -> TokenRevoked | None:
    """What the fast layer shows revoked, answered once the token's signature verified."""
    if fast.token_blocked:
        return TokenRevoked("token is blacklisted")
    if fast.watermark and fast.watermark.surely_kills_iat(claims.issued_at):
        return TokenRevoked("token predates its user's logout-all")
    return None
