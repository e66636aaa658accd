"""The gateway's verify route as a small ASGI app in front of Litestar: with introspection's
plain requests (`gateway_introspection`), what the service answers without the framework.

Why here, and only here: every API call behind a gateway (nginx auth_request, Traefik
ForwardAuth, Envoy ext_authz) pays for this request, and its answer is a status and a few
headers. Profiled under load with warm tokens, Litestar's layers (its exception middleware,
routing, the ASGI middleware wrapper) cost about as much as the whole cached check, and its
response machinery more. Everything else stays Litestar, including this route's OpenAPI
description (`verify.verify_router`), which Litestar still serves for paths it receives.

What it keeps from the framework's path, so a caller can't tell the difference: the same check
(`AuthenticateToken`, timed into the check histogram), the same answers (`verify.VerifiedAnswer`
for a live token, the one error table's raw answers for the rest, 500 for a bug), the route
template the request metrics label it with, and the request id (the id and metrics
middlewares wrap this app, as they wrap Litestar). Methods the route does not serve, and
websockets, go on to Litestar, which answers them as before (405).
"""

from __future__ import annotations

import logging

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from revocation.domain.errors import RevocationError
from revocation.domain.model import Claims
from revocation.entrypoints.http.auth import Authenticator, authorization_header
from revocation.entrypoints.http.errors import send_domain_error, send_unexpected_error
from revocation.entrypoints.http.peer import checked_request
from revocation.entrypoints.http.verify import VERIFY_METHODS, VERIFY_PATH, VerifiedAnswer

logger = logging.getLogger(__name__)

# The route templates Litestar labels these paths with: the request metrics keep their series.
_TEMPLATE = VERIFY_PATH
_FORWARDED_TEMPLATE = VERIFY_PATH + "/{forwarded_path}"
_METHODS = frozenset([*VERIFY_METHODS, "OPTIONS"])
# Answers built per identity, kept for the tokens checked again and again (a gateway's steady
# state); dropped all at once when full, which only costs rebuilding them.
_MAX_ANSWERS = 10_000


class GatewayVerify:
    """Answers the verify route (and what Envoy appends below it); the rest goes to `app`."""

    def __init__(self, app: ASGIApp, authenticate: Authenticator) -> None:
        self._app = app
        self._authenticate = authenticate
        self._below = VERIFY_PATH + "/"
        self._answers: dict[Claims, VerifiedAnswer] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        template = self._template(scope)
        if template is None:
            await self._app(scope, receive, send)
            return
        scope["path_template"] = template
        checking = checked_request.set(scope)  # who sent it, should the token be a replay
        try:
            claims = await self._authenticate(authorization=authorization_header(scope["headers"]))
        except RevocationError as error:
            await send_domain_error(error, send)
            return
        except Exception as error:  # a bug: logged with its trace, answered without it
            await send_unexpected_error(error, send)
            return
        finally:
            checked_request.reset(checking)
        await self._answer(claims)(scope, receive, send)

    def _answer(self, claims: Claims) -> VerifiedAnswer:
        """The 200 of these claims: its headers depend on nothing else."""
        answer = self._answers.get(claims)
        if answer is None:
            if len(self._answers) >= _MAX_ANSWERS:
                self._answers.clear()
            answer = self._answers[claims] = VerifiedAnswer(claims)
        return answer

    def _template(self, scope: Scope) -> str | None:
        """The route template of a request this app answers; None for any other request."""
        if scope["type"] != ScopeType.HTTP or scope["method"] not in _METHODS:
            return None
        path = scope["path"]
        if path == VERIFY_PATH or path == self._below:
            return _TEMPLATE
        return _FORWARDED_TEMPLATE if path.startswith(self._below) else None
