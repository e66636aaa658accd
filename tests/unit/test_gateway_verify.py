"""The verify route is answered before Litestar (GatewayVerify); the rest goes to Litestar."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from litestar import Litestar
from litestar.di import Provide
from litestar.testing import AsyncTestClient
from litestar.types import Message

from revocation.adapters.log_context import request_id_var
from revocation.domain.errors import BlacklistUnavailable, InvalidToken, Unauthorized
from revocation.domain.model import Claims, TokenKey
from revocation.entrypoints.app import create_app
from revocation.entrypoints.http.errors import EXCEPTION_HANDLERS
from revocation.entrypoints.http.gateway import GatewayVerify, verify_template
from revocation.entrypoints.http.verify import verify_router
from tests.app_factory import in_memory_container
from tests.revocations import LOGOUT

VERIFY = "/api/v2/auth/verify"
SESSIONS = "/api/v2/sessions"


def gateway_of(check: Callable[..., Awaitable[Claims | Unauthorized]]) -> GatewayVerify:
    class Verdicts:
        async def verdict(self, *, authorization: str | None) -> Claims | Unauthorized:
            return await check(authorization=authorization)

    return GatewayVerify(Verdicts(), requests=None, check_seconds=None)


async def call(
    gateway: GatewayVerify, method: str, path: str, token: str | None, *, request_id: str = ""
) -> list[dict[str, Any]]:
    headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
    if request_id:
        headers.append((b"x-request-id", request_id.encode()))
    scope = {"type": "http", "method": method, "path": path, "headers": headers}
    template = verify_template(scope)  # type: ignore[arg-type]
    assert template is not None, "not a request the gateway answers"
    sent: list[dict[str, Any]] = []

    async def send(message: Message) -> None:
        sent.append(dict(message))

    await gateway.answer(scope, send, template)  # type: ignore[arg-type]
    return sent


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", VERIFY), ("HEAD", VERIFY + "/"), ("OPTIONS", VERIFY + "/orders/7"), ("PUT", VERIFY)],
)
async def test_answers_the_verify_route_itself(method: str, path: str) -> None:
    container = in_memory_container()
    token = (await container.issue_token()(user_id=31)).token
    gateway = gateway_of(container.authenticate_token().verdict)
    live = await call(gateway, method, path, token)
    await container.logout_token()(claims=container.codec().verify(token), revocation=LOGOUT)
    revoked = await call(gateway, method, path, token)
    assert (live[0]["status"], revoked[0]["status"]) == (200, 401)
    assert (b"x-user-id", b"31") in live[0]["headers"]
    assert revoked[1]["body"] == b'{"title":"Unauthorized"}'


@pytest.mark.parametrize(
    ("method", "path", "answer"),
    [
        ("GET", "/api/v2/auth/verifyx", (404, "Not Found")),
        ("TRACE", VERIFY, (405, "Method Not Allowed")),  # Litestar's, as it always was
        ("GET", SESSIONS, (401, "Unauthorized")),
    ],
)
async def test_leaves_every_other_request_to_litestar(
    method: str, path: str, answer: tuple[int, str]
) -> None:
    scope = {"type": "http", "method": method, "path": path, "headers": []}
    assert verify_template(scope) is None  # type: ignore[arg-type]
    async with AsyncTestClient(app=create_app(in_memory_container())) as client:
        got = await client.request(method, path)
    assert (got.status_code, got.json()["title"]) == answer
    assert got.headers["x-request-id"]  # Litestar's answers keep their ids


def test_lifespan_and_websockets_are_never_the_gateways() -> None:
    assert verify_template({"type": "lifespan"}) is None  # type: ignore[arg-type]
    websocket = {"type": "websocket", "path": VERIFY, "headers": []}
    assert verify_template(websocket) is None  # type: ignore[arg-type]


async def test_a_bug_in_the_check_is_a_500_never_a_200() -> None:
    async def broken(*, authorization: str | None) -> object:
        raise RuntimeError("a bug")

    answers = await call(gateway_of(broken), "GET", VERIFY, "x.y.z")  # type: ignore[arg-type]
    assert answers[0]["status"] == 500
    assert answers[1]["body"] == b'{"title":"Internal Server Error"}'


@pytest.mark.parametrize(
    ("outcome", "status"), [("accepted", 200), ("refused", 401), ("failed", 503)]
)
async def test_the_check_runs_under_the_request_id_it_echoes(outcome: str, status: int) -> None:
    """Every log line of the check carries the id the answer echoes: the caller's when safe,
    a fresh one (different each time) when not."""
    seen: list[str | None] = []

    async def check(*, authorization: str | None) -> Claims | Unauthorized:
        seen.append(request_id_var.get())
        if outcome == "failed":
            raise BlacklistUnavailable("the fast layer and the log are both down")
        if outcome == "refused":
            return InvalidToken("refused")
        return Claims(TokenKey("iss", "jti-1"), user_id=7, issued_at=1, expires_at=2)

    gateway = gateway_of(check)
    kept = await call(gateway, "GET", VERIFY, "a.b.c", request_id="caller-id.1")
    fresh = [await call(gateway, "GET", VERIFY, "a.b.c", request_id="no spaces") for _ in "ab"]
    echoed = [dict(answer[0]["headers"])[b"x-request-id"].decode() for answer in [kept, *fresh]]
    assert [answer[0]["status"] for answer in [kept, *fresh]] == [status] * 3
    assert echoed[0] == "caller-id.1"
    assert len({*echoed}) == 3
    assert seen == echoed
    assert request_id_var.get() is None  # reset once answered


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
    gateway = gateway_of(container.authenticate_token().verdict)
    for _ in range(3):
        for user, token in tokens.items():
            start = (await call(gateway, "GET", VERIFY, token))[0]
            assert (b"x-user-id", str(user).encode()) in start["headers"]
            assert (b"x-tampered", b"1") not in start["headers"]
            start["headers"].append((b"x-tampered", b"1"))  # as Litestar's CORS writes


async def test_claims_met_anew_get_their_own_answer_even_when_equal_or_alike() -> None:
    """A check that builds new claims at every call, alternating two users, gets headers from
    the claims it returned each time, never a kept answer of other claims."""
    made: list[Claims] = []

    async def fresh_claims(*, authorization: str | None) -> Claims:
        user = 7 if len(made) % 2 else 8
        made.append(Claims(TokenKey("issuer", f"jti-{user}"), user, 1_700_000_000, 2_000_000_000))
        return made[-1]

    gateway = gateway_of(fresh_claims)
    for round_ in range(6):
        start = (await call(gateway, "GET", VERIFY, "token"))[0]
        user = 7 if round_ % 2 else 8
        assert (b"x-user-id", str(user).encode()) in start["headers"]
        assert (b"x-token-jti", f"jti-{user}".encode()) in start["headers"]
