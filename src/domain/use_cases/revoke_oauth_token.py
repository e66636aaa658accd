"""OAuth token revocation (RFC 7009): a client revokes a token as its user's logout would."""

from __future__ import annotations

from revocation.domain.app_gate import AppGate, ClientCall
from revocation.domain.audit import Actor, Reason, Revocation
from revocation.domain.errors import InvalidToken, MissingToken
from revocation.domain.ports import TokenCodec
from revocation.domain.use_cases.authenticate_token import well_formed
from revocation.domain.use_cases.logout_token import LogoutToken


class RevokeOAuthToken:
    """Admit the client, then block any token whose signature verifies, exactly as logout does
    (the log first, then the fast layer), with the client named in the audit trail.

    A token that does not verify is no token of ours: nothing to revoke, and the RFC answers
    that like a success. One already revoked is blocked again, which changes nothing.
    """

    def __init__(self, *, gate: AppGate, codec: TokenCodec, logout_token: LogoutToken) -> None:
        self._gate = gate
        self._codec = codec
        self._logout_token = logout_token

    async def __call__(self, *, client: ClientCall, token: object) -> None:
        app_id = await self._gate.admit_client(client)
        if not isinstance(token, str) or not token:
            raise MissingToken("the token parameter is required")
        try:
            claims = self._codec.verify(well_formed(token))
        except InvalidToken:
            return
        revocation = Revocation(Reason.OAUTH_REVOCATION, Actor.oauth_client(app_id), client.peer)
        await self._logout_token(claims=claims, revocation=revocation)
