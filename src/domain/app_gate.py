"""The check in front of every internal (service-to-service) call, in the spec's order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeGuard

from revocation.domain.errors import (
    InvalidAppCredentials,
    MissingAppCredentials,
    MissingUserId,
    Throttled,
)
from revocation.domain.model import parse_user_id
from revocation.domain.ports import AppCredentials, FailureThrottle, Telemetry


@dataclass(frozen=True, slots=True)
class InternalCall:
    """What a service-to-service call presents, as it was sent: AppGate decides what it is."""

    user_id: object
    app_id: object
    app_key: object
    peer: str  # who is calling, as the HTTP edge saw it (after trusted proxies)


@dataclass(frozen=True, slots=True)
class ClientCall:
    """An OAuth client's credentials as sent (its client id and secret are the app id and key)."""

    app_id: object
    app_key: object
    peer: str


class AppGate:
    """User id first, then credentials present, then the brake, then a constant-time compare.

    The brake reserves the comparison before it happens: a success releases it, a failure
    keeps it counted for the window (and a success erases no failure before it).
    """

    def __init__(
        self, *, credentials: AppCredentials, throttle: FailureThrottle, telemetry: Telemetry
    ) -> None:
        self._credentials = credentials
        self._throttle = throttle
        self._telemetry = telemetry

    async def admit(self, call: InternalCall) -> int:
        """The validated user id, or the error the spec names for the first failed rule."""
        parsed_user_id = parse_user_id(call.user_id)
        if parsed_user_id is None:
            raise MissingUserId("user_id is missing or not an integer in range")
        await self.admit_client(ClientCall(call.app_id, call.app_key, call.peer))
        return parsed_user_id

    async def admit_client(self, call: ClientCall) -> str:
        """The client's app id once its credentials match, behind the same brake."""
        app_id, app_key, peer = call.app_id, call.app_key, call.peer
        if not _non_empty_str(app_id) or not _non_empty_str(app_key):
            raise MissingAppCredentials("app_id and app_key must be non-empty strings")
        try:
            attempt = await self._throttle.reserve(peer)
        except Throttled:
            self._telemetry.internal_auth_failed(peer, throttled=True)
            raise
        if not self._credentials.matches(app_id, app_key):
            await attempt.failed()
            self._telemetry.internal_auth_failed(peer, throttled=False)
            raise InvalidAppCredentials("app_id and app_key do not match")
        await attempt.succeeded()
        return app_id


def _non_empty_str(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and value != ""
