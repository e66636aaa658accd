"""The real app plus one side-effect-free protected route, so a test can ask "is this token live?".

The spec's protected routes all revoke something; a race test needs a pure check that runs the
same middleware (`AuthenticateToken`) on every instance. Served by uvicorn in a subprocess:
`uvicorn --factory tests.probe_app:app_from_env`.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, get

from entrypoints import app as service

PROBE_PATH = "/api/v2/test/probe"


@get(PROBE_PATH, include_in_schema=False)
async def probe(request: Request[Any, Any, Any]) -> dict[str, int]:
    """200 with the caller's user id when its token is live; the middleware answers otherwise."""
    return {"user_id": request.user.user_id}


def with_probe(app: Litestar) -> Litestar:
    app.register(probe)  # app-level middleware applies to routes registered later too
    return app


def app_from_env() -> Litestar:
    return with_probe(service.app_from_env())
