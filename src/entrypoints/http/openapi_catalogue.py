"""What the generated OpenAPI schema cannot know: each operation's summary, description, stable
operationId, and the spec's real bodies as examples (applied by openapi_document)."""

from __future__ import annotations

from dataclasses import dataclass, field

LOGGED_OUT = {"message": "Successfully Logged Out."}
LOGGED_OUT_EVERYWHERE = {"message": "Successfully Logged Out From All Device."}
INTERNAL_401 = (
    "Kindly Provide User ID",
    "Kindly Provide APP ID and APP KEY",
    "Kindly Provide Valid APP ID and APP KEY",
)
INTERNAL_AUTH = (
    " Guarded by APP_ID and APP_KEY, compared in constant time; wrong pairs are counted per "
    "peer address, and a throttled peer gets the third 401 with `Retry-After`."
)


@dataclass(frozen=True)
class Documented:
    operation_id: str
    summary: str
    description: str  # empty: the handler's docstring stays the description
    success: object = None  # the 2xx body, as the spec shows it
    titles: dict[int, tuple[str, ...]] = field(default_factory=dict)  # else the status's title


CATALOGUE: dict[tuple[str, str], Documented] = {
    ("POST", "/api/v2/logout"): Documented(
        "logout", "Log out the caller's token",
        "Blocks the bearer token everywhere: in the token log, then in the blacklist. A second "
        "logout with the same token gets 401.", LOGGED_OUT),
    ("POST", "/api/v2/logout-all-device"): Documented(
        "logoutAllDevices", "Log the caller's user out of every device",
        "Every token of the token's user issued before this call is dead, logged or not (a "
        "per-user watermark), on every device.", LOGGED_OUT_EVERYWHERE),
    ("POST", "/api/v2/lgt-all"): Documented(
        "logoutUserEverywhere", "Log a user out of every device (internal)",
        "The Laravel app's call: `user_id` is checked first, then the app credentials."
        + INTERNAL_AUTH, LOGGED_OUT_EVERYWHERE, {401: INTERNAL_401}),
    ("POST", "/api/v2/internal/tokens"): Documented(
        "issueToken", "Issue and log a token for a user (internal)",
        "Signs an access token for the user and records it in the token log, with an optional "
        "device label." + INTERNAL_AUTH,
        {"token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...", "token_type": "Bearer",
         "expires_at": 1767225600, "jti": "tLUnRvWmM0Iuqx2cS3bVrA"},
        {401: INTERNAL_401, 400: ("Kindly Provide Valid Device",)}),
    ("GET", "/api/v2/sessions"): Documented(
        "listSessions", "List the caller's active sessions",
        "Every unexpired, unrevoked logged token of the caller's user, newest first; `current` "
        "marks the one making this request.",
        {"sessions": [{"id": "s_3q2-7Yk1bA", "device": "laptop", "issued_at": 1767222000,
                       "expires_at": 1767225600, "current": True}]}),
    ("DELETE", "/api/v2/sessions/{session_id}"): Documented(
        "revokeSession", "Log out one of the caller's sessions",
        "The id is one GET /api/v2/sessions gave; another user's session, or one already "
        "ended, is 404.", {"message": "Session Revoked."}),
    ("GET", "/api/v2/sessions/history"): Documented(
        "listSessionHistory", "List the caller's ended sessions",
        "When, which device, why and by whom, newest first, a page at a time (`cursor`, "
        "`limit`)."),
    ("POST", "/api/v2/internal/sessions/history"): Documented(
        "listUserSessionHistory", "List a user's ended sessions (internal)",
        "The same history for any user, for support tools." + INTERNAL_AUTH,
        titles={401: INTERNAL_401}),
    ("GET", "/api/v2/auth/verify"): Documented(
        "verifyToken", "Check a token for a gateway",
        "Any method answers the same (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS: a gateway "
        "may forward its client's), and so does any path under it (`/api/v2/auth/verify/"
        "orders/42`, as Envoy's path prefix sends). 200 with an empty body and the token's "
        "identity in headers, which the gateway copies upstream; 401 or 503 otherwise: the "
        "gateway must refuse the request."),
    ("HEAD", "/api/v2/auth/verify"): Documented(
        "verifyTokenHead", "Check a token for a gateway, without a body",
        "GET's answer without a body (the same status and headers)."),
    ("GET", "/health/live"): Documented(
        "live", "Is the process up", "200 while the process serves; checks nothing else.",
        {"status": "ok"}),
    ("GET", "/health/ready"): Documented(
        "ready", "Can the service decide",
        "Reads a probe key through the token log and the blacklist. 200 `ready`, or `degraded` "
        "while Redis fails (the database decides alone); 503 while the database cannot answer.",
        {"status": "ready", "checks": {"database": "ok", "blacklist": "ok", "fast_path": "on"}}),
    ("POST", "/oauth/introspect"): Documented(
        "introspectToken", "Introspect a token (RFC 7662)", "",
        {"active": True, "sub": "12345", "jti": "tLUnRvWmM0Iuqx2cS3bVrA", "exp": 1767225600,
         "iat": 1767222000, "token_type": "Bearer"}),
    ("POST", "/oauth/revoke"): Documented(
        "revokeOAuthToken", "Revoke a token (RFC 7009)", ""),
    ("GET", "/.well-known/oauth-authorization-server"): Documented(
        "authorizationServerMetadata", "Where the OAuth endpoints are (RFC 8414)", ""),
    ("GET", "/.well-known/jwks.json"): Documented(
        "jsonWebKeys", "The public keys that verify our tokens (RFC 7517)", ""),
}  # fmt: skip
# OAuth's answers name an error code, not a title (RFC 6749 section 5.2).
OAUTH_ERRORS = {
    400: "invalid_request",
    401: "invalid_client",
    413: "invalid_request",
    503: "temporarily_unavailable",
}
# The verify route's other methods and its `{forwarded_path}` form are described once, above.
UNDOCUMENTED_VERIFY_PATH = "/api/v2/auth/verify/{forwarded_path}"
VERIFY_PATH = "/api/v2/auth/verify"
