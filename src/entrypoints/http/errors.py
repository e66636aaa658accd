"""The one table from failure to status and `{"title": ...}` body, registered once."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.types import ExceptionHandlersMap, HTTPResponseStartEvent, Send

from revocation.domain.errors import (
    InvalidAppCredentials,
    InvalidDevice,
    InvalidPage,
    MissingAppCredentials,
    MissingUserId,
    RevocationError,
    SessionNotFound,
    StorageUnavailable,
    Throttled,
    Unauthorized,
)
from revocation.entrypoints.http.schemas import ErrorBody

logger = logging.getLogger(__name__)

# Most specific first: the first class in a raised error's MRO that is listed here wins.
DOMAIN_ERRORS: dict[type[RevocationError], tuple[int, str]] = {
    Unauthorized: (401, "Unauthorized"),
    MissingUserId: (401, "Kindly Provide User ID"),
    InvalidDevice: (400, "Kindly Provide Valid Device"),
    InvalidPage: (400, "Bad Request"),
    MissingAppCredentials: (401, "Kindly Provide APP ID and APP KEY"),
    InvalidAppCredentials: (401, "Kindly Provide Valid APP ID and APP KEY"),
    SessionNotFound: (404, "Not Found"),
    StorageUnavailable: (503, "Service Unavailable"),
}
# The titles of Litestar's own errors, written here rather than taken from http.HTTPStatus,
# whose phrases change between Python versions (3.13 renamed 413 "Content Too Large"): the API's
# answers are part of its contract and must not depend on the interpreter.
HTTP_TITLES: dict[int, str] = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    408: "Request Timeout",
    409: "Conflict",
    411: "Length Required",
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}


def http_title(status: int) -> str:
    """The fixed title of a status; a status not listed gets its class's."""
    return HTTP_TITLES.get(status) or ("Client Error" if status < 500 else "Server Error")


BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def error_response(
    status: int, title: str, headers: dict[str, str] | None = None
) -> Response[ErrorBody]:
    return Response(ErrorBody(title=title), status_code=status, headers=headers)


def domain_error_to_response(_: Request[Any, Any, Any], error: Exception) -> Response[ErrorBody]:
    return error_response(*_answer(error))


async def send_domain_error(error: RevocationError, send: Send) -> None:
    """The answer `domain_error_to_response` gives, sent straight to the ASGI server."""
    await _send_raw(raw_answer(error), send)


async def send_unexpected_error(error: Exception, send: Send) -> None:
    """The answer `unexpected_error_to_response` gives, sent straight to the ASGI server."""
    await _send_raw(unexpected_answer(error), send)


async def _send_raw(answer: RawAnswer, send: Send) -> None:
    status, headers, body = answer
    # A fresh list: middlewares write headers into it in place (Litestar's CORS does).
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": status,
        "headers": list(headers),
    }
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})


def unexpected_answer(error: Exception) -> RawAnswer:
    """A bug's 500: logged with its trace here, answered without it."""
    logger.exception("unhandled error", exc_info=error)
    return 500, _UNEXPECTED_HEADERS, _UNEXPECTED_BODY


RawAnswer = tuple[int, tuple[tuple[bytes, bytes], ...], bytes]
_UNEXPECTED_BODY = msgspec.json.encode(ErrorBody("Internal Server Error"))
_UNEXPECTED_HEADERS = (
    (b"content-type", b"application/json"),
    (b"content-length", b"%d" % len(_UNEXPECTED_BODY)),
)
# Error type -> its raw answer, for types whose answer never varies (every 401 on the hot path).
_RAW_ANSWERS: dict[type[RevocationError], RawAnswer] = {}


def raw_answer(error: RevocationError) -> RawAnswer:
    """The status, headers and body of a domain error's answer."""
    known = _RAW_ANSWERS.get(type(error))
    if known is not None:
        return known
    status, title, headers = _answer(error)
    body = msgspec.json.encode(ErrorBody(title))
    raw = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    raw += [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    answer = (status, tuple(raw), body)
    # Not kept: a 5xx (`_answer` logs each one) and a throttled 401 (its Retry-After varies).
    if status < 500 and not isinstance(error, Throttled):
        _RAW_ANSWERS[type(error)] = answer
    return answer


def _answer(error: Exception) -> tuple[int, str, dict[str, str]]:
    """Status, title and headers for a domain error (the table's first match in its MRO)."""
    listed = next(cls for cls in type(error).__mro__ if cls in DOMAIN_ERRORS)
    status, title = DOMAIN_ERRORS[listed]
    headers: dict[str, str] = {}
    if isinstance(error, Unauthorized):
        headers.update(BEARER_CHALLENGE)
    if isinstance(error, Throttled):
        headers["Retry-After"] = str(error.retry_after_seconds)
    if status >= 500:
        logger.error("storage unavailable: %s", type(error).__name__)
    return status, title, headers


def http_error_to_response(_: Request[Any, Any, Any], error: Exception) -> Response[ErrorBody]:
    """Litestar's own errors (400, 401, 404, 405, 413...) in the same `{"title"}` shape."""
    assert isinstance(error, HTTPException)  # noqa: S101 - registered only for HTTPException
    status = error.status_code
    headers = dict(error.headers or {})
    if status == 401:
        headers.update(BEARER_CHALLENGE)
    return error_response(status, http_title(status), headers)


def unexpected_error_to_response(
    _: Request[Any, Any, Any], error: Exception
) -> Response[ErrorBody]:
    """A bug is logged with its trace for us, and answered without one."""
    logger.exception("unhandled error", exc_info=error)
    return error_response(500, "Internal Server Error")


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    RevocationError: domain_error_to_response,
    HTTPException: http_error_to_response,
    Exception: unexpected_error_to_response,
}
