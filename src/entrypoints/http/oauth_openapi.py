"""The OAuth endpoints in the OpenAPI schema: form bodies and `{"error"}` answers, which
Litestar cannot infer from handlers that read their form themselves."""

from __future__ import annotations

from dataclasses import dataclass

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
)

from revocation.entrypoints.http.oauth_answers import OAuthError

_TEXT = Schema(type=OpenAPIType.STRING)
FORM = "application/x-www-form-urlencoded"


@dataclass
class OAuthFormOperation(Operation):
    """`token` in a form; the client's id and secret as HTTP Basic or as form fields."""

    def __post_init__(self) -> None:
        properties: dict[str, Schema | Reference] = {
            "token": Schema(type=OpenAPIType.STRING, min_length=1),
            "token_type_hint": _TEXT,
            "client_id": Schema(type=OpenAPIType.STRING, description="APP_ID, or HTTP Basic"),
            "client_secret": Schema(type=OpenAPIType.STRING, description="APP_KEY"),
        }
        schema = Schema(type=OpenAPIType.OBJECT, properties=properties, required=["token"])
        self.request_body = RequestBody(
            content={FORM: OpenAPIMediaType(schema=schema)}, required=True
        )


def _error(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=OAuthError, description=description)


OAUTH_ERROR_RESPONSES = {
    400: _error("invalid_request: no token, a parameter repeated, two client authentications"),
    401: _error("invalid_client: no, wrong or throttled client credentials"),
    413: _error("invalid_request: the body is larger than MAX_BODY_BYTES"),
    503: _error("temporarily_unavailable: the token log (database) could not answer"),
}
