"""A route whose whole answer is the caller's identity is answered by the auth middleware."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar, Request, get
from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from revocation.domain.model import Claims
from revocation.entrypoints.app import create_app
from revocation.entrypoints.http.auth import ANSWER_OPT_KEY, _skips_nothing, revocation_middleware
from tests.app_factory import in_memory_container
from tests.revocations import LOGOUT


class UserIdAnswer:
    """200 with the user id as the body, straight from the claims."""

    def __init__(self, claims: Claims) -> None:
        self._body = str(claims.user_id).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": ()})
        await send({"type": "http.response.body", "body": self._body, "more_body": False})


VERIFY = "/api/v2/auth/verify"
SESSIONS = "/api/v2/sessions"
handler_calls: list[str] = []


@get("/whoami", opt={ANSWER_OPT_KEY: UserIdAnswer})
async def whoami() -> ASGIApp:
    handler_calls.append("whoami")
    raise AssertionError("the middleware answers this route: its body never runs")


async def test_the_middleware_sends_the_answer_and_the_handler_never_runs() -> None:
    container = in_memory_container()
    token = (await container.issue_token()(user_id=31)).token
    app = Litestar([whoami], middleware=[revocation_middleware(container.authenticate_token())])
    handler_calls.clear()
    async with AsyncTestClient(app=app) as client:
        live = await client.get("/whoami", headers={"Authorization": f"Bearer {token}"})
        await container.logout_token()(claims=container.codec().verify(token), revocation=LOGOUT)
        revoked = await client.get("/whoami", headers={"Authorization": f"Bearer {token}"})
    assert (live.status_code, live.content) == (200, b"31")
    assert revoked.status_code == 401  # refused before any answer is built
    assert handler_calls == []


async def test_cors_headers_of_one_refusal_never_reach_the_next() -> None:
    """Litestar's CORS middleware writes its headers into the response's header list in place:
    an answer kept between requests (refusals are) must be sent as a copy, or a request with no
    Origin would get the previous caller's Access-Control headers."""
    origin = "https://app.example"
    container = in_memory_container(CORS_ALLOWED_ORIGINS=origin)
    token = (await container.issue_token()(user_id=32)).token
    await container.logout_token()(claims=container.codec().verify(token), revocation=LOGOUT)
    bearer = {"Authorization": f"Bearer {token}"}
    async with AsyncTestClient(app=create_app(container)) as client:
        cross_origin = await client.get(SESSIONS, headers={**bearer, "Origin": origin})
        same_origin = await client.get(SESSIONS, headers=bearer)
    assert cross_origin.status_code == same_origin.status_code == 401
    assert cross_origin.headers.get_list("access-control-allow-origin") == [origin]
    assert "access-control-allow-origin" not in same_origin.headers
    assert "vary" not in same_origin.headers


@pytest.mark.parametrize("method", ["GET", "OPTIONS"])
async def test_cors_never_applies_to_the_verify_route(method: str) -> None:
    """Gateways call it, not browsers: its OPTIONS is checked like any method, and no answer
    of it carries Access-Control headers."""
    origin = "https://app.example"
    container = in_memory_container(CORS_ALLOWED_ORIGINS=origin)
    token = (await container.issue_token()(user_id=34)).token
    preflight = {"Origin": origin, "Access-Control-Request-Method": "GET"}
    async with AsyncTestClient(app=create_app(container)) as client:
        anonymous = await client.request(method, VERIFY, headers=preflight)
        verified = await client.request(
            method, VERIFY, headers={**preflight, "Authorization": f"Bearer {token}"}
        )
    assert (anonymous.status_code, verified.status_code) == (401, 200)
    for answer in (anonymous, verified):
        assert not [name for name in answer.headers if name.startswith("access-control-")]


def deny(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    raise PermissionDeniedException("guard says no")


class MarkingMiddleware(ASGIMiddleware):
    """Inner middleware: the fast path would skip it, so it must not be taken."""

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message["headers"], (b"x-marked", b"1")]
            await send(message)

        await next_app(scope, receive, marked)


@get("/guarded", opt={ANSWER_OPT_KEY: UserIdAnswer}, guards=[deny])
async def guarded() -> ASGIApp:
    raise AssertionError("the guard refuses before this runs")


@get("/wrapped", opt={ANSWER_OPT_KEY: UserIdAnswer}, middleware=[MarkingMiddleware()])
async def wrapped(request: Request[Claims, Claims, Any]) -> ASGIApp:
    return UserIdAnswer(request.user)


async def test_a_route_with_anything_the_answer_would_skip_is_answered_by_its_handler() -> None:
    container = in_memory_container()
    token = (await container.issue_token()(user_id=33)).token
    auth = revocation_middleware(container.authenticate_token())
    app = Litestar([guarded, wrapped], middleware=[auth])
    async with AsyncTestClient(app=app) as client:
        refused = await client.get("/guarded", headers={"Authorization": f"Bearer {token}"})
        marked = await client.get("/wrapped", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403  # the guard ran
    assert (marked.status_code, marked.content, marked.headers["x-marked"]) == (200, b"33", "1")


def test_the_services_verify_route_takes_the_fast_path() -> None:
    """A setting added to the app that the fast path would skip turns it off quietly: this
    says so, since the verify route's speed (the benchmark's protected route) depends on it."""
    app = create_app(in_memory_container())
    handlers = [
        handler
        for route in app.routes
        if isinstance(route, HTTPRoute) and route.path.startswith(VERIFY)
        for handler in route.route_handlers
        if ANSWER_OPT_KEY in handler.opt
    ]
    assert handlers
    for handler in handlers:
        [middleware] = handler.resolve_middleware()
        assert isinstance(middleware, ASGIMiddleware)
        assert _skips_nothing(handler, app, middleware)
