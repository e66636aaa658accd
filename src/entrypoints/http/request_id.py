"""A request id on every log record of a request, and echoed in the `X-Request-Id` header."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterable

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from revocation.adapters.log_context import request_id_var

HEADER = "x-request-id"
HEADER_BYTES = HEADER.encode()  # ASGI servers lower-case header names
# A caller's id is kept only when short and plain: it goes into every log line and a header.
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class _FreshIds:
    """32 hex digits, like a random UUID's: 16 random ones per process, then a counter.

    Unique, not secret: nothing trusts a request id. Not `os.urandom` per request: that
    syscall releases the GIL, which the server's own threads take at once; measured under
    load, the hand-over cost a tenth of the protected route's time.
    """

    def __init__(self) -> None:
        self.reseed()

    def reseed(self) -> None:
        # The random half in the high 64 bits, the counter in the low ones: one number, so an
        # id costs one `to_bytes().hex()`, half of what formatting the two halves did.
        self._ids = itertools.count(int.from_bytes(os.urandom(8), "big") << 64)

    def next_id(self) -> str:
        return next(self._ids).to_bytes(16, "big").hex()


_fresh_ids = _FreshIds()
# Server workers are forked from one parent: each starts its own prefix, or two would collide.
os.register_at_fork(after_in_child=_fresh_ids.reseed)
# A bound method, not an instance with `__call__`: calling an instance goes through Python's
# slow call path, on every request that brings no id of its own.
_fresh_id = _fresh_ids.next_id


def request_id_from(incoming: str | None) -> str:
    """The caller's id when it is safe to log, else a fresh one."""
    if incoming and _SAFE_ID.fullmatch(incoming):
        return incoming
    return _fresh_id()


def request_id_of(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The request's id: the first `X-Request-Id` line when safe to log, else a fresh one."""
    for name, value in headers:  # a loop, not next() over a generator: half the cost
        if name == HEADER_BYTES:
            return request_id_from(value.decode("latin-1"))
    return _fresh_id()


class RequestIdMiddleware:
    """Wraps the whole app (404s and error responses too): the id exists before anything logs.

    Written against raw ASGI messages: it runs on every request, so it costs one header scan
    and one appended header, no header objects.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self._app(scope, receive, send)
            return
        request_id = request_id_of(scope["headers"])
        echoed = (HEADER_BYTES, request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), echoed]
            await send(message)

        token = request_id_var.set(request_id)
        try:
            await self._app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
