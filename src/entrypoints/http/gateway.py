"""The gateway's verify route, the one request the service answers before Litestar is called.

Why here, and only here: every API call behind a gateway (nginx auth_request, Traefik
ForwardAuth, Envoy ext_authz) pays for this request, and its answer is a status and a few
headers. Profiled in process with warm tokens, the layers around the check cost more than the
check: Litestar's entry (its own `__call__`), then the request id and metrics middlewares, each
a coroutine frame and a `send` wrapper per message. Here the request id, the metrics and the
answer are written inline, in one frame around the check.
(Introspection's plain requests are answered ahead of Litestar's routing too, in
`gateway_introspection`, but inside the middlewares: they cost far more than the layers.)

What it keeps from the framework's path, so a caller can't tell the difference: the same check
(`AuthenticateToken`, timed into the check histogram), the same answers (`verify.VerifiedAnswer`
for a live token, the one error table's raw answers for the rest, 500 for a bug), the request id
(the caller's when safe, echoed in `X-Request-Id` and on every log line of the check), and the
request metrics under the route template Litestar would give. This route's OpenAPI description
stays Litestar's (`verify.verify_router`). Methods the route does not serve, and websockets, go
on to Litestar, which answers them as before (405).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Protocol

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.types import (
    HTTPScope,
    LifeSpanReceive,
    LifeSpanScope,
    LifeSpanSend,
    Receive,
    Scope,
    Send,
)

from revocation.adapters.log_context import request_id_var
from revocation.adapters.loop_metrics import LoopHistogram
from revocation.domain.errors import RevocationError, Unauthorized
from revocation.domain.model import Claims
from revocation.entrypoints.http.auth import authorization_header
from revocation.entrypoints.http.errors import raw_answer, unexpected_answer
from revocation.entrypoints.http.metrics import RequestSeries
from revocation.entrypoints.http.peer import checked_request
from revocation.entrypoints.http.request_id import HEADER_BYTES, request_id_of
from revocation.entrypoints.http.verify import VERIFY_METHODS, VERIFY_PATH, VerifiedAnswer

# The route templates Litestar labels these paths with: the request metrics keep their series.
_TEMPLATE = VERIFY_PATH
_FORWARDED_TEMPLATE = VERIFY_PATH + "/{forwarded_path}"
_BELOW = VERIFY_PATH + "/"
_METHODS = frozenset([*VERIFY_METHODS, "OPTIONS"])
_HTTP = ScopeType.HTTP.value  # a plain str: reading an enum's member costs more (Python 3.11)
# Answers built per identity, kept for the tokens checked again and again (a gateway's steady
# state); dropped all at once when full, which only costs rebuilding them.
_MAX_ANSWERS = 10_000


class Verdicts(Protocol):
    """`AuthenticateToken.verdict`: the check, its refusal returned rather than raised."""

    def verdict(self, *, authorization: str | None) -> Awaitable[Claims | Unauthorized]: ...


def verify_template(scope: Scope | LifeSpanScope) -> str | None:
    """The route template of a request `GatewayVerify` answers; None for any other request."""
    if scope["type"] != _HTTP:
        return None
    # Not `typing.cast`: a Python call, and this runs on every request the service gets.
    request: HTTPScope = scope  # type: ignore[assignment]
    if request["method"] not in _METHODS:
        return None
    path = request["path"]
    if path in (VERIFY_PATH, _BELOW):
        return _TEMPLATE
    return _FORWARDED_TEMPLATE if path.startswith(_BELOW) else None


class GatewayVerify:
    """Answers (`answer`) a request `verify_template` matched (`template`: what it returned)."""

    def __init__(
        self,
        check_token: Verdicts,
        *,
        requests: RequestSeries | None,
        check_seconds: LoopHistogram | None,
    ) -> None:
        self._check_token = check_token
        self._requests = requests
        self._check_seconds = check_seconds
        # By the claims' identity: the verified-token cache hands a repeated token the same
        # claims object, and hashing a dataclass's fields cost more than the rest of the lookup.
        # Each answer holds its claims, so no id is reused while its answer is kept.
        self._answers: dict[int, VerifiedAnswer] = {}

    async def answer(self, scope: HTTPScope, send: Send, template: str) -> None:
        # One frame for the whole request (the check's own frames aside): at the server's
        # ceiling, a coroutine more per request is measurable. A method, not `__call__`:
        # calling an instance takes Python's slow call path.
        started = time.perf_counter()
        scope["path_template"] = template
        request_id = request_id_of(scope["headers"])
        logging_as = request_id_var.set(request_id)
        status = 500  # what the server answers if this raises before the answer starts
        try:
            check_started = time.perf_counter()
            checking = checked_request.set(scope)  # who sent it, should the token be a replay
            try:
                verdict = await self._check_token.verdict(
                    authorization=authorization_header(scope["headers"])
                )
            except RevocationError as error:  # the fast layer or the log failed: a 503
                status, headers, body = raw_answer(error)
            except Exception as error:  # a bug: logged with its trace, answered without it
                status, headers, body = unexpected_answer(error)
            else:
                if isinstance(verdict, Unauthorized):
                    status, headers, body = raw_answer(verdict)
                else:
                    status, headers, body = 200, self._answer(verdict).headers, b""
            finally:
                checked_request.reset(checking)
                if self._check_seconds is not None:
                    self._check_seconds.observe(time.perf_counter() - check_started)
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [*headers, (HEADER_BYTES, request_id.encode())],
                }
            )
            await send({"type": "http.response.body", "body": body, "more_body": False})
        finally:
            request_id_var.reset(logging_as)
            if self._requests is not None:
                seconds = time.perf_counter() - started
                self._requests.note(scope["method"], template, status, seconds)

    def _answer(self, claims: Claims) -> VerifiedAnswer:
        """The 200 of these claims: its headers depend on nothing else."""
        answer = self._answers.get(id(claims))
        if answer is None or answer.claims is not claims:
            if len(self._answers) >= _MAX_ANSWERS:
                self._answers.clear()
            answer = self._answers[id(claims)] = VerifiedAnswer(claims)
        return answer


class GatewayFirst(Litestar):
    """Litestar, except for the verify route's requests, which `gateway` answers before it."""

    gateway: GatewayVerify | None = None

    async def __call__(
        self,
        scope: Scope | LifeSpanScope,
        receive: Receive | LifeSpanReceive,
        send: Send | LifeSpanSend,
    ) -> None:
        if self.gateway is not None:
            template = verify_template(scope)
            if template is not None:
                await self.gateway.answer(scope, send, template)  # type: ignore[arg-type]
                return
        await super().__call__(scope, receive, send)
