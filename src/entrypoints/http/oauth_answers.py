"""What the OAuth endpoints read and answer in OAuth's own shapes (RFC 6749 section 5.2), not
the v2 routes' `{"title"}`: the client's credentials in, `{"error": code}` out."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import unquote_plus

import msgspec
from litestar import Request, Response
from litestar.datastructures import FormMultiDict
from litestar.exceptions import HTTPException
from litestar.types import ExceptionHandlersMap

from revocation.domain.app_gate import ClientCall
from revocation.domain.errors import (
    InvalidAppCredentials,
    InvalidOAuthRequest,
    MissingAppCredentials,
    RevocationError,
    StorageUnavailable,
    Throttled,
)
from revocation.entrypoints.http.history import basic_credentials
from revocation.entrypoints.http.peer import peer_address

logger = logging.getLogger(__name__)

# Most specific first, as in the v2 table: the first class in the error's MRO wins.
OAUTH_ERRORS: dict[type[RevocationError], tuple[int, str]] = {
    MissingAppCredentials: (401, "invalid_client"),
    InvalidAppCredentials: (401, "invalid_client"),  # a throttled client too
    InvalidOAuthRequest: (400, "invalid_request"),
    StorageUnavailable: (503, "temporarily_unavailable"),
    RevocationError: (400, "invalid_request"),  # any other refusal of the request's content
}
NO_STORE = {"Cache-Control": "no-store"}  # an answer about a token is never reused


class OAuthError(msgspec.Struct, frozen=True):
    error: str


# Every value a form field was sent with, in order: [] when it was not.
FormValues = Callable[[str], Sequence[object]]


def form_values(form: FormMultiDict) -> FormValues:
    return lambda name: form.getall(name, [])


def single(values: FormValues, name: str) -> object:
    """A parameter sent at most once (RFC 6749 section 3.2), or None when absent."""
    sent = values(name)
    if len(sent) > 1:
        raise InvalidOAuthRequest(f"{name} is repeated")
    return sent[0] if sent else None


def client_call(
    headers: Iterable[tuple[bytes, bytes]], values: FormValues, peer: str
) -> ClientCall:
    """The client's id and secret, from HTTP Basic or from the form, never both. RFC 6749
    section 2.3.1 form-urlencodes Basic's two parts before base64: decoded here."""
    posted = single(values, "client_id"), single(values, "client_secret")
    basic = basic_credentials(headers)
    if basic is not None and posted != (None, None):
        raise InvalidOAuthRequest("the client authenticated with two methods")
    app_id, app_key = posted if basic is None else (_form_decoded(part) for part in basic)
    return ClientCall(app_id, app_key, peer)


def request_client(request: Request[Any, Any, Any], form: FormMultiDict) -> ClientCall:
    """client_call of a request Litestar parsed."""
    peer = peer_address(request, request.app.state.trusted_proxies)
    return client_call(request.scope["headers"], form_values(form), peer)


def _form_decoded(part: object) -> object:
    return unquote_plus(part) if isinstance(part, str) else part


def refusal(error: RevocationError) -> tuple[int, str, dict[str, str]]:
    """The status, OAuth error code and headers that answer a refusal."""
    listed = next(cls for cls in type(error).__mro__ if cls in OAUTH_ERRORS)
    status, code = OAUTH_ERRORS[listed]
    headers = {"WWW-Authenticate": "Basic"} if status == 401 else {}
    if isinstance(error, Throttled):
        headers["Retry-After"] = str(error.retry_after_seconds)
    if status >= 500:
        logger.error("storage unavailable: %s", type(error).__name__)
    return status, code, {**NO_STORE, **headers}


def oauth_error(status: int, code: str, headers: dict[str, str]) -> Response[OAuthError]:
    return Response(OAuthError(code), status_code=status, headers={**NO_STORE, **headers})


def _domain_error(_: Request[Any, Any, Any], error: Exception) -> Response[OAuthError]:
    assert isinstance(error, RevocationError)  # noqa: S101 - registered only for RevocationError
    status, code, headers = refusal(error)
    return oauth_error(status, code, headers)


def _http_error(_: Request[Any, Any, Any], error: Exception) -> Response[OAuthError]:
    """Litestar's own refusals (a body too large, a bad multipart form) as invalid_request."""
    assert isinstance(error, HTTPException)  # noqa: S101 - registered only for HTTPException
    status = error.status_code if error.status_code < 500 else 400
    return oauth_error(status, "invalid_request", dict(error.headers or {}))


OAUTH_EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    RevocationError: _domain_error,
    HTTPException: _http_error,
}
