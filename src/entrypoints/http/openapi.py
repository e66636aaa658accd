"""OpenAPI details Litestar cannot infer: raw JSON bodies we validate ourselves, error bodies."""

from __future__ import annotations

from dataclasses import dataclass

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    Components,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
    SecurityRequirement,
    SecurityScheme,
)

from revocation.domain.audit import CURSOR_PATTERN
from revocation.entrypoints.http.schemas import ErrorBody

BEARER_COMPONENTS = Components(
    security_schemes={
        "BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT"),
    }
)
BEARER_SECURITY: list[SecurityRequirement] = [{"BearerToken": []}]

_STRING = Schema(type=OpenAPIType.STRING, min_length=1)
_USER_ID = Schema(
    one_of=[
        Schema(type=OpenAPIType.INTEGER, minimum=1, maximum=2**63 - 1),
        Schema(type=OpenAPIType.STRING, pattern="^[0-9]{1,19}$"),
    ],
    description="A JSON integer, or a string of decimal digits as PHP forms send.",
)


def _json_body(properties: dict[str, Schema | Reference], required: list[str]) -> RequestBody:
    schema = Schema(type=OpenAPIType.OBJECT, properties=properties, required=required)
    return RequestBody(content={"application/json": OpenAPIMediaType(schema=schema)}, required=True)


_REASON = Schema(
    type=OpenAPIType.STRING,
    description="Optional: why, in a few words, for the user's history (at most 200 characters "
    "without control characters; another value is dropped, and noted, never refused)",
)


@dataclass
class LgtAllOperation(Operation):
    """lgt-all reads its body itself so that a missing field gets the spec's 401, not a 400."""

    def __post_init__(self) -> None:
        self.request_body = _json_body(
            {"user_id": _USER_ID, "app_id": _STRING, "app_key": _STRING, "reason": _REASON},
            ["user_id", "app_id", "app_key"],
        )


@dataclass
class InternalHistoryOperation(Operation):
    """Read like lgt-all; the app id and key may come as HTTP Basic instead of in the body."""

    def __post_init__(self) -> None:
        cursor = Schema(
            type=OpenAPIType.STRING,
            pattern=CURSOR_PATTERN,
            description="`next_cursor` of the previous page",
        )
        limit = Schema(type=OpenAPIType.INTEGER, minimum=1, maximum=100, description="Page size")
        self.request_body = _json_body(
            {
                "user_id": _USER_ID,
                "app_id": _STRING,
                "app_key": _STRING,
                "cursor": cursor,
                "limit": limit,
            },
            ["user_id"],
        )
        self.description = (self.description or "") + (
            " `app_id` and `app_key` in the body, or as `Authorization: Basic` "
            "(base64 of `app_id:app_key`), which then wins; never in the query string."
        )


@dataclass
class IssueTokenOperation(Operation):
    """Token issuance is guarded exactly like lgt-all, so its body is read the same way."""

    def __post_init__(self) -> None:
        device = Schema(
            type=OpenAPIType.STRING,
            max_length=255,
            pattern="^[^\\u0000-\\u001f\\u007f-\\u009f]*$",  # no control characters
            description="Device label, shown in the sessions list: no control characters",
        )
        self.request_body = _json_body(
            {"user_id": _USER_ID, "app_id": _STRING, "app_key": _STRING, "device": device},
            ["user_id", "app_id", "app_key"],
        )


def error(description: str) -> ResponseSpec:
    # Examples come from the catalogue (openapi_document), never generated at random.
    return ResponseSpec(data_container=ErrorBody, description=description, generate_examples=False)


UNAUTHORIZED = {401: error("Missing, invalid, expired or revoked token")}
UNAVAILABLE = {503: error("The token log (database) could not answer")}
INTERNAL_ERRORS = {
    401: error(
        'One of "Kindly Provide User ID", "Kindly Provide APP ID and APP KEY", '
        '"Kindly Provide Valid APP ID and APP KEY"'
    ),
    413: error("The body is larger than MAX_BODY_BYTES"),  # these routes read their body
    **UNAVAILABLE,
}
ISSUANCE_ERRORS = {
    400: error(
        '"Kindly Provide Valid Device": the device label is not text of at most 255 characters '
        "without control characters"
    ),
    **INTERNAL_ERRORS,
}
HISTORY_ERRORS = {
    400: error("A cursor no page gave, or a limit out of 1..100"),
    **UNAUTHORIZED,
    **UNAVAILABLE,
}
INTERNAL_HISTORY_ERRORS = {
    400: error("A cursor no page gave, or a limit out of 1..100"),
    **INTERNAL_ERRORS,
}
