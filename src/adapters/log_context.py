"""Which request a log record belongs to: set by the HTTP edge, read by whatever logs."""

from __future__ import annotations

from contextvars import ContextVar

# The id of the request being served (entrypoints.http.request_id sets it); None outside one.
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
