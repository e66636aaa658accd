"""The check every protected request pays for: blacklist, then signature, then the log."""

from __future__ import annotations

import re

from domain.errors import (
    BlacklistUnavailable,
    InvalidToken,
    TokenNotLogged,
    TokenRevoked,
    Unauthorized,
)
from domain.model import Claims, LogState
from domain.ports import Blacklist, Telemetry, TokenCodec, TokenLog

MAX_TOKEN_LENGTH = 8192  # far above any real JWT; refuses megabyte headers before decoding
_B64_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")  # RFC 6750 b64token


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header (scheme case-insensitive)."""
    if not authorization:
        raise InvalidToken("no Authorization header")
    scheme, _, token = authorization.partition(" ")
    token = token.strip(" ")
    if scheme.lower() != "bearer" or not token:
        raise InvalidToken("not a Bearer credential")
    if len(token) > MAX_TOKEN_LENGTH or not _B64_TOKEN.fullmatch(token):
        raise InvalidToken("malformed bearer token")
    return token


class AuthenticateToken:
    """The spec's flow: Redis blacklist and watermark → JWT signature and claims → database."""

    def __init__(
        self,
        *,
        codec: TokenCodec,
        blacklist: Blacklist,
        token_log: TokenLog,
        telemetry: Telemetry,
        require_logged: bool = True,
    ) -> None:
        self._codec = codec
        self._telemetry = telemetry
        self._blacklist = blacklist
        self._token_log = token_log
        self._require_logged = require_logged

    async def __call__(self, *, authorization: str | None) -> Claims:
        try:
            return await self._check(authorization)
        except Unauthorized as rejection:
            self._telemetry.token_rejected(rejection.reason)
            raise

    async def _check(self, authorization: str | None) -> Claims:
        token = bearer_token(authorization)
        await self._reject_if_blacklisted(self._codec.peek(token))
        claims = self._codec.verify(token)
        self._reject_unless_logged_live(
            claims, await self._token_log.lookup(claims.key, claims.user_id)
        )
        return claims

    async def _reject_if_blacklisted(self, claims: Claims) -> None:
        try:
            state = await self._blacklist.lookup(claims.key, claims.user_id)
        except BlacklistUnavailable:
            self._telemetry.blacklist_unavailable("lookup")  # the token log decides alone
            return
        if state.token_blocked:
            raise TokenRevoked("token is blacklisted")
        if state.watermark and state.watermark.surely_kills_iat(claims.issued_at):
            raise TokenRevoked("token predates its user's logout-all")

    def _reject_unless_logged_live(self, claims: Claims, state: LogState) -> None:
        record, watermark = state.record, state.watermark
        if record is None:
            if self._require_logged:
                raise TokenNotLogged("token is not in the token log")
            if watermark and watermark.kills_unlogged_iat(claims.issued_at):
                raise TokenRevoked("unlogged token predates its user's logout-all")
            return
        if record.is_blocked:
            raise TokenRevoked("token is blocked in the token log")
        if watermark and watermark.kills_issued_at(record.issued_at):
            raise TokenRevoked("token predates its user's logout-all")
