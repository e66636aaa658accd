"""The ceiling: a bare ASGI app answering "ok" on the service's ASGI server settings.

No framework, no middleware, no check: what one request costs the server alone. The service's
verify route is measured against it ("x bare").

Run: `python -m bench.bare_asgi --port 8002 [--server granian|uvicorn] [--workers 1]`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bench.serve import serve

_START: dict[str, Any] = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")],
}
_BODY: dict[str, Any] = {"type": "http.response.body", "body": b"ok", "more_body": False}


Message = dict[str, Any]


async def hello(
    scope: Message,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] == "lifespan":  # no start-up or shutdown work
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send(_START)
    await send(_BODY)


def create_app() -> object:
    return hello


def main() -> None:
    serve("bench.bare_asgi:create_app", "the benchmark's bare ASGI hello")


if __name__ == "__main__":
    main()
