"""OAuth token introspection (RFC 7662): a resource server asks whether a token is live."""

from __future__ import annotations

from revocation.domain.app_gate import AppGate, ClientCall
from revocation.domain.errors import MissingToken, Unauthorized
from revocation.domain.model import Claims
from revocation.domain.use_cases.authenticate_token import AuthenticateToken


class IntrospectToken:
    """Admit the client (the trusted service's credentials, behind the brake), then run the
    very check every protected route runs: the claims of a live token, or None.

    Revoked, expired, forged, unknown and malformed tokens all answer None alike, so the
    answer says no more than "not active". A storage failure still raises: "cannot decide"
    must not read as "inactive" (or worse, be cached as an answer).
    """

    def __init__(self, *, gate: AppGate, authenticate: AuthenticateToken) -> None:
        self._gate = gate
        self._authenticate = authenticate

    async def __call__(self, *, client: ClientCall, token: object) -> Claims | None:
        await self._gate.admit_client(client)
        if not isinstance(token, str) or not token:
            raise MissingToken("the token parameter is required")
        try:
            return await self._authenticate.check_token(token=token)
        except Unauthorized:
            return None
