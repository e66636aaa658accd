"""The OpenAPI document as readers need it, finished once when first rendered: summaries,
descriptions, stable operationIds and examples from the catalogue, the headers every answer
carries, the verify route documented once."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import (
    Example,
    OpenAPI,
    OpenAPIHeader,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    PathItem,
    Reference,
    Schema,
)

from revocation.entrypoints.http.errors import http_title
from revocation.entrypoints.http.openapi_catalogue import (
    CATALOGUE,
    OAUTH_ERRORS,
    UNDOCUMENTED_VERIFY_PATH,
    VERIFY_PATH,
    Documented,
)

_TEXT = Schema(type=OpenAPIType.STRING)
REQUEST_ID = OpenAPIHeader(schema=_TEXT, description="This request's id, as its log lines show")
BEARER_CHALLENGE = OpenAPIHeader(schema=_TEXT, description="`Bearer`")
BASIC_CHALLENGE = OpenAPIHeader(schema=_TEXT, description="`Basic`: the client authenticates")
RETRY_AFTER = OpenAPIHeader(
    schema=Schema(type=OpenAPIType.INTEGER),
    description="Only when the peer is throttled: seconds until its window ends",
)
_ERROR_BODY = "#/components/schemas/ErrorBody"
_OAUTH_ERROR = "#/components/schemas/OAuthError"
_VERSION = re.compile(r"^(api|v\d+)$")


def readable_operation_id(_: HTTPRouteHandler, method: str, components: list[Any]) -> str:
    """The catalogue's id; for a route it does not list, the method and the path in camelCase
    (`postOauthIntrospect`): stable, unique, and what a generated client names its function."""
    parts = [str(getattr(part, "name", part)) for part in components]
    documented = CATALOGUE.get((method.upper(), _templated(components)))
    if documented is not None:
        return documented.operation_id
    words = [w for p in parts for w in re.split(r"[^A-Za-z0-9]+", p) if w and not _VERSION.match(w)]
    return method.lower() + "".join(word[:1].upper() + word[1:] for word in words)


def _templated(components: list[Any]) -> str:
    return "/" + "/".join(
        f"{{{part.name}}}" if hasattr(part, "name") else str(part) for part in components
    )


@dataclass
class DocumentedOpenAPIConfig(OpenAPIConfig):
    def to_openapi_schema(self) -> OpenAPI:
        base = super().to_openapi_schema()
        return DocumentedOpenAPI(**{f.name: getattr(base, f.name) for f in fields(base)})


@dataclass
class DocumentedOpenAPI(OpenAPI):
    """Litestar fills `paths` after building this; it is finished when first rendered."""

    def to_schema(self) -> dict[str, Any]:
        if self.paths and not getattr(self, "_finished", False):
            finish(self.paths)
            object.__setattr__(self, "_finished", True)
        return super().to_schema()


def finish(paths: dict[str, PathItem]) -> None:
    paths.pop(UNDOCUMENTED_VERIFY_PATH, None)
    if verify := paths.get(VERIFY_PATH):
        for method in ("put", "post", "delete", "options", "patch"):
            setattr(verify, method, None)
    for path, item in paths.items():
        for method in ("get", "put", "post", "delete", "options", "head", "patch", "trace"):
            if (operation := getattr(item, method)) is not None:
                _document(operation, CATALOGUE.get((method.upper(), path)))


def _document(operation: Operation, documented: Documented | None) -> None:
    if documented is not None:
        operation.operation_id = documented.operation_id
        operation.summary = documented.summary
        if documented.description:
            operation.description = documented.description + _extra(operation.description)
    elif operation.description and (not operation.summary or " " not in operation.summary):
        operation.summary = operation.description.split(". ")[0].rstrip(".")
    for status, response in (operation.responses or {}).items():
        if isinstance(response, OpenAPIResponse):
            _headers(operation, int(status), response)
            _examples(int(status), response, documented)


def _extra(generated: str | None) -> str:
    """What an operation class added to the description (the internal history's Basic auth)."""
    return f" {generated.strip()}" if generated and generated.startswith(" ") else ""


def _headers(operation: Operation, status: int, response: OpenAPIResponse) -> None:
    headers = response.headers = dict(response.headers or {})
    headers["X-Request-Id"] = REQUEST_ID
    if status != 401:
        return
    if operation.security:
        headers["WWW-Authenticate"] = BEARER_CHALLENGE
        return
    headers["Retry-After"] = RETRY_AFTER
    if _error_schema(response) == _OAUTH_ERROR:
        headers["WWW-Authenticate"] = BASIC_CHALLENGE


def _examples(status: int, response: OpenAPIResponse, documented: Documented | None) -> None:
    for media in (response.content or {}).values():
        schema = media.schema
        if isinstance(schema, Reference) and schema.ref == _OAUTH_ERROR and status in OAUTH_ERRORS:
            code = OAUTH_ERRORS[status]
            media.examples = {code: Example(summary=code, value={"error": code})}
        elif isinstance(schema, Reference) and schema.ref == _ERROR_BODY:
            titles = (documented.titles.get(status) if documented else None) or (
                http_title(status),
            )
            media.examples = {t: Example(summary=t, value={"title": t}) for t in titles}
        elif 200 <= status < 300 and documented is not None and documented.success is not None:
            media.examples = {
                "spec": Example(summary="As the spec shows", value=documented.success)
            }


def _error_schema(response: OpenAPIResponse) -> str | None:
    for media in (response.content or {}).values():
        if isinstance(media.schema, Reference):
            return media.schema.ref
    return None
