"""The verify route is answered before Litestar (GatewayVerify); the rest goes to Litestar."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.di import Provide
from litestar.testing import AsyncTestClient
from litestar.types import Message, Receive, Scope, Send

from revocation.entrypoints.app import create_app
from revocation.entrypoints.http.errors import EXCEPTION_HANDLERS
from revocation.entrypoints.http.gateway import GatewayVerify
from revocation.entrypoints.http.verify import verify_router
from tests.app_factory import in_memory_container
from tests.revocations import LOGOUT

VERIFY = "/api/v2/auth/verify"
SESSIONS = "/api/v2/sessions"


class Recorder:
    """An inner app that answers 418 and records the paths it was given."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.paths.append(scope["path"])
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def call(
    app: GatewayVerify, method: str, path: str, token: str | None
) -> list[dict[str, Any]]:
    headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
    scope = {"type": "http", "method": method, "path": path, "headers": headers}
    sent: list[dict[str, Any]] = []

    async def receive() -> Message:
        raise AssertionError("the verify route never reads the body")

    async def send(message: Message) -> None:
        sent.append(dict(message))

    await app(scope, receive, send)  # type: ignore[arg-type]
    return sent


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", VERIFY), ("HEAD", VERIFY + "/"), ("OPTIONS", VERIFY + "/orders/7"), ("PUT", VERIFY)],
)
async def test_answers_the_verify_route_itself(method: str, path: str) -> None:
    container = in_memory_container()
    token = (await container.issue_token()(user_id=31)).token
    inner = Recorder()
    gateway = GatewayVerify(inner, container.authenticate_token())
    live = await call(gateway, method, path, token)
    await container.logout_token()(claims=container.codec().verify(token), revocation=LOGOUT)
    revoked = await call(gateway, method, path, token)
    assert (live[0]["status"], revoked[0]["status"]) == (200, 401)
    assert (b"x-user-id", b"31") in live[0]["headers"]
    assert inner.paths == []


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/api/v2/auth/verifyx"), ("TRACE", VERIFY), ("GET", SESSIONS)]
)
async def test_leaves_every_other_request_to_the_app(method: str, path: str) -> None:
    container = in_memory_container()
    inner = Recorder()
    answers = await call(GatewayVerify(inner, container.authenticate_token()), method, path, None)
    assert (answers[0]["status"], inner.paths) == (418, [path])


async def test_a_bug_in_the_check_is_a_500_never_a_200() -> None:
    async def broken(*, authorization: str | None) -> object:
        raise RuntimeError("a bug")

    answers = await call(GatewayVerify(Recorder(), broken), "GET", VERIFY, "x.y.z")  # type: ignore[arg-type]
    assert answers[0]["status"] == 500
    assert answers[1]["body"] == b'{"title":"Internal Server Error"}'


async def test_the_services_verify_checks_are_timed_by_the_gateway() -> None:
    """The service answers the route before Litestar, whose own handler checks untimed: the
    check histogram counts a verify request only if the gateway answered it."""
    container = in_memory_container()
    token = (await container.issue_token()(user_id=35)).token
    async with AsyncTestClient(app=create_app(container)) as client:
        for path in (VERIFY, VERIFY + "/", VERIFY + "/orders/7"):
            await client.get(path, headers={"Authorization": f"Bearer {token}"})
        exposition = (await client.get("/metrics")).text
    assert "revocation_token_check_duration_seconds_count 3.0" in exposition
    # Labelled with Litestar's route templates, as before: the series stay the same.
    series = 'revocation_http_requests_total{method="GET",route="%s",status="200"}'
    assert series % VERIFY + " 2.0" in exposition
    assert series % (VERIFY + "/{forwarded_path}") + " 1.0" in exposition


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


@pytest.mark.parametrize("method", ["GET", "OPTIONS"])
async def test_litestars_own_verify_route_answers_the_same(method: str) -> None:
    """What serves the schema's description also checks the token, should a request reach it
    without the gateway in front (an app mounting the router alone)."""
    container = in_memory_container()
    token = (await container.issue_token()(user_id=36)).token
    app = Litestar(
        [verify_router()],
        dependencies={
            "authenticate_token": Provide(
                lambda: container.authenticate_token(), sync_to_thread=False
            )
        },
        exception_handlers=EXCEPTION_HANDLERS,
    )
    async with AsyncTestClient(app=app) as client:
        live = await client.request(method, VERIFY, headers={"Authorization": f"Bearer {token}"})
        missing = await client.request(method, VERIFY)
    assert (live.status_code, live.headers["x-user-id"]) == (200, "36")
    assert (missing.status_code, missing.headers["www-authenticate"]) == (401, "Bearer")


async def test_each_identity_gets_its_own_answer_every_time() -> None:
    """Answers are kept per identity: alternating tokens never get each other's headers, and a
    header list a middleware changed in place is never sent again."""
    container = in_memory_container()
    tokens = {user: (await container.issue_token()(user_id=user)).token for user in (41, 42)}
    gateway = GatewayVerify(Recorder(), container.authenticate_token())
    for _ in range(3):
        for user, token in tokens.items():
            start = (await call(gateway, "GET", VERIFY, token))[0]
            assert (b"x-user-id", str(user).encode()) in start["headers"]
            assert (b"x-tampered", b"1") not in start["headers"]
            start["headers"].append((b"x-tampered", b"1"))  # as Litestar's CORS writes
