"""Plain introspection requests are answered before Litestar (GatewayIntrospection); any other
shape goes on to Litestar's route, which answers alike."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from litestar.types import Message, Receive, Scope, Send

from revocation.entrypoints.http.gateway_introspection import GatewayIntrospection
from revocation.entrypoints.http.peer import TrustedProxies
from tests.app_factory import TEST_ENV, in_memory_container

INTROSPECT = "/oauth/introspect"
FORM = b"application/x-www-form-urlencoded"
CREDENTIALS = f"{TEST_ENV['APP_ID']}:{TEST_ENV['APP_KEY']}".encode()
BASIC = (b"authorization", b"Basic " + base64.b64encode(CREDENTIALS))


class Recorder:
    """An inner app that answers 418 and records the paths it was given."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.paths.append(scope["path"])
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def door(inner: Recorder, max_body_bytes: int = 4096) -> GatewayIntrospection:
    introspect = in_memory_container().introspect_token()
    return GatewayIntrospection(
        inner, introspect, trusted_proxies=TrustedProxies([]), max_body_bytes=max_body_bytes
    )


async def call(
    app: GatewayIntrospection,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    *,
    method: str = "POST",
    path: str = INTROSPECT,
    chunk: int = 1 << 20,
) -> list[dict[str, Any]]:
    scope: dict[str, object] = {"type": "http", "method": method, "path": path}
    scope.update(headers=headers, client=("192.0.2.7", 40000))
    parts = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, object]:
        part = parts.pop(0)
        return {"type": "http.request", "body": part, "more_body": bool(parts)}

    async def send(message: Message) -> None:
        sent.append(dict(message))

    await app(scope, receive, send)  # type: ignore[arg-type]
    return sent


async def test_answers_a_plain_introspection_itself() -> None:
    inner = Recorder()
    sent = await call(door(inner), [BASIC, (b"content-type", FORM)], b"token=not-a-jwt")
    assert inner.paths == []
    assert sent[0]["status"] == 200
    assert (b"cache-control", b"no-store") in sent[0]["headers"]
    assert sent[1]["body"] == b'{"active":false}'


async def test_reads_a_body_sent_in_pieces_and_a_content_type_with_parameters() -> None:
    inner = Recorder()
    content_type = (b"content-type", b"Application/X-WWW-Form-URLEncoded; charset=UTF-8")
    sent = await call(door(inner), [BASIC, content_type], b"token=not-a-jwt", chunk=3)
    assert inner.paths == []
    assert sent[1]["body"] == b'{"active":false}'


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("POST", INTROSPECT, [BASIC, (b"content-type", b"multipart/form-data; boundary=x")]),
        ("POST", INTROSPECT, [BASIC]),  # no content type
        ("POST", INTROSPECT, [BASIC, (b"content-type", FORM), (b"origin", b"https://a.test")]),
        ("GET", INTROSPECT, [BASIC, (b"content-type", FORM)]),
        ("POST", "/oauth/revoke", [BASIC, (b"content-type", FORM)]),
        ("POST", INTROSPECT + "/", [BASIC, (b"content-type", FORM)]),
        ("POST", INTROSPECT, [BASIC, (b"content-type", b"text/plain"), (b"content-type", FORM)]),
        ("POST", INTROSPECT, [BASIC, (b"content-type", FORM), (b"content-length", b"x1")]),
    ],
)
async def test_any_other_shape_goes_on_to_litestar(
    method: str, path: str, headers: list[tuple[bytes, bytes]]
) -> None:
    inner = Recorder()
    sent = await call(door(inner), headers, b"token=t", method=method, path=path)
    assert inner.paths == [path]
    assert sent[0]["status"] == 418


async def test_a_body_over_the_limit_is_an_invalid_request() -> None:
    inner = Recorder()
    body = b"token=" + b"a" * 2000
    sent = await call(door(inner, max_body_bytes=1024), [BASIC, (b"content-type", FORM)], body)
    assert sent[0]["status"] == 413
    assert sent[1]["body"] == b'{"error":"invalid_request"}'


async def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    headers = [BASIC, (b"content-type", FORM), (b"content-length", b"5000")]
    sent = await call(door(Recorder(), max_body_bytes=1024), headers, b"never read")
    assert sent[0]["status"] == 413
    assert sent[1]["body"] == b'{"error":"invalid_request"}'


async def test_a_declared_length_of_thousands_of_digits_is_over_the_limit() -> None:
    headers = [BASIC, (b"content-type", FORM), (b"content-length", b"9" * 5000)]
    sent = await call(door(Recorder()), headers, b"never read")
    assert sent[0]["status"] == 413


async def test_a_refusal_answers_in_oauth_s_shape() -> None:
    sent = await call(door(Recorder()), [(b"content-type", FORM)], b"token=t&client_id=x")
    headers = dict(sent[0]["headers"])
    assert (sent[0]["status"], sent[1]["body"]) == (401, b'{"error":"invalid_client"}')
    assert headers[b"www-authenticate"] == b"Basic"
    assert headers[b"cache-control"] == b"no-store"


async def test_a_client_gone_before_its_body_is_not_answered() -> None:
    app, sent = door(Recorder()), []
    scope: dict[str, object] = {"type": "http", "method": "POST", "path": INTROSPECT}
    scope["headers"] = [BASIC, (b"content-type", FORM)]

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)  # type: ignore[arg-type]
    assert sent == []
