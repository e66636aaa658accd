"""Every way a revocation request can fail, one class each; the HTTP edge maps them once."""


class RevocationError(Exception):
    """Base class of every domain error."""


class Unauthorized(RevocationError):
    """The caller did not present a live, valid token."""

    reason = "unauthorized"  # a short code for metrics and logs


class InvalidToken(Unauthorized):
    """The token does not decode, verify or carry the claims we require."""

    reason = "invalid"


class TokenRevoked(Unauthorized):
    """The token was logged out, alone or with all of its user's tokens."""

    reason = "revoked"


class TokenNotLogged(Unauthorized):
    """The token is not in the durable log, which this deployment requires."""

    reason = "not_logged"


class SessionNotFound(RevocationError):
    """No active session of the caller has that id (unknown, ended, or another user's)."""


class InvalidDevice(RevocationError):
    """A device label given at issuance is not one the sessions list can show."""


class InvalidPage(RevocationError):
    """A history page was asked with a cursor no page gave, or a size out of range."""


class InvalidOAuthRequest(RevocationError):
    """An OAuth request is malformed: a parameter repeated, the client authenticated twice."""


class MissingToken(InvalidOAuthRequest):
    """An OAuth introspection or revocation request named no token."""


class MissingUserId(RevocationError):
    """An internal call gave no usable user id."""


class MissingAppCredentials(RevocationError):
    """An internal call gave no app id or app key."""


class InvalidAppCredentials(RevocationError):
    """An internal call gave an app id and key that do not match the configured pair."""


class Throttled(InvalidAppCredentials):
    """Too many failed internal calls from this peer; it is not even compared for now."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"retry after {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds


class StorageUnavailable(RevocationError):
    """A storage layer could not answer in time."""


class TokenLogUnavailable(StorageUnavailable):
    """The durable token log (the database) failed; nothing can be decided safely."""


class BlacklistUnavailable(StorageUnavailable):
    """The fast blacklist (Redis) failed; the durable log can still decide."""


class RevocationNotMirrored(StorageUnavailable):
    """A revocation is durable but the fast layer, which answers alone, did not take it."""
