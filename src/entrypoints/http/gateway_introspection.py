"""RFC 7662 introspection as resource servers send it, answered before Litestar: the gateway's
other per-request door (Apache's mod_auth_openidc, Kong, oauth2-proxy introspect every call
they pass on), beside `gateway.GatewayVerify` and for the same reason. Profiled, Litestar's
route (its layers, dependency injection, form parsing and response machinery) cost about five
times the introspection itself.

Only the plain shape of the request is answered here: a POST of a url-encoded form, without an
Origin header (no browser, so no CORS to answer) and within MAX_BODY_BYTES. Anything else goes
on to Litestar's own route (`oauth.introspect`), which answers it as before. Both read the form
alike (`oauth_answers`), run the same use case and answer from the same table, so a client
can't tell which one answered: the request id and metrics middlewares wrap both.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from urllib.parse import parse_qsl

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from revocation.domain.errors import RevocationError
from revocation.domain.use_cases import IntrospectToken
from revocation.entrypoints.http.errors import send_unexpected_error
from revocation.entrypoints.http.oauth import INTROSPECTION_PATH, introspection_of
from revocation.entrypoints.http.oauth_answers import (
    NO_STORE,
    FormValues,
    OAuthError,
    client_call,
    refusal,
    single,
)
from revocation.entrypoints.http.peer import TrustedProxies, peer_of

_FORM = b"application/x-www-form-urlencoded"
_TOO_LARGE = msgspec.json.encode(OAuthError("invalid_request"))  # a 413's body
_MAX_LENGTH_DIGITS = 18  # longer is over any limit (and int() refuses thousands of digits)


class GatewayIntrospection:
    """Answers the plain introspection requests; everything else goes on to `app`."""

    def __init__(
        self,
        app: ASGIApp,
        introspect: IntrospectToken,
        *,
        trusted_proxies: TrustedProxies,
        max_body_bytes: int,
    ) -> None:
        self._app = app
        self._introspect = introspect
        self._trusted = trusted_proxies
        self._max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = _plain_introspection(scope)
        if declared is None:
            await self._app(scope, receive, send)
            return
        scope["path_template"] = INTROSPECTION_PATH
        if declared > self._max_body:  # refused before reading, as Litestar does
            await _send(send, 413, _TOO_LARGE, NO_STORE)
            return
        body = await _body(receive, self._max_body)
        if body is None:
            return  # the client is gone: nobody to answer
        if len(body) > self._max_body:
            await _send(send, 413, _TOO_LARGE, NO_STORE)
            return
        try:
            values = _form_values(body)
            client = client_call(scope["headers"], values, peer_of(scope, self._trusted))
            claims = await self._introspect(client=client, token=single(values, "token"))
        except RevocationError as error:
            status, code, headers = refusal(error)
            await _send(send, status, msgspec.json.encode(OAuthError(code)), headers)
            return
        except Exception as error:  # a bug: logged with its trace, answered without it
            await send_unexpected_error(error, send)
            return
        await _send(send, 200, msgspec.json.encode(introspection_of(claims)), NO_STORE)


def _plain_introspection(scope: Scope) -> int | None:
    """The Content-Length a plain introspection request declared (0 for none); None for any
    other request."""
    if scope["type"] != ScopeType.HTTP or scope["method"] != "POST":
        return None
    if scope["path"] != INTROSPECTION_PATH:
        return None
    content_type, declared = None, None  # the first of each, as Litestar reads them
    for name, value in scope["headers"]:
        if name == b"origin":
            return None
        if name == b"content-type" and content_type is None:
            content_type = value
        if name == b"content-length":
            if not value.isdigit():
                return None  # Litestar's own 400
            if declared is None:
                declared = int(value) if len(value) <= _MAX_LENGTH_DIGITS else sys.maxsize
    if content_type is None or content_type.partition(b";")[0].strip().lower() != _FORM:
        return None
    return declared or 0


async def _body(receive: Receive, limit: int) -> bytes | None:
    """The request's body, or as much of it as shows it is over `limit`; None if the client
    left before sending it all."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > limit or not message.get("more_body", False):
            return b"".join(chunks)


def _form_values(body: bytes) -> FormValues:
    """A url-encoded form's values, read as Litestar reads them (blank values kept)."""
    fields: defaultdict[str, list[object]] = defaultdict(list)
    for name, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True, separator="&"):
        fields[name].append(value)
    return lambda name: fields.get(name, ())


async def _send(send: Send, status: int, body: bytes, headers: dict[str, str]) -> None:
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    raw += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body, "more_body": False})
