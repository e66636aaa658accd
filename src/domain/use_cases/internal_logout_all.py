"""POST /api/v2/lgt-all: the Laravel app logs a user out everywhere."""

from __future__ import annotations

from revocation.domain.app_gate import AppGate, InternalCall
from revocation.domain.audit import Revocation
from revocation.domain.use_cases.logout_all_devices import LogoutAllDevices


class InternalLogoutAll:
    """Admit the internal caller by the spec's rules, then log the user out of every device.

    `reason` is the service's optional note for the audit trail: never required, never a cause
    of refusal; one that is not short plain text is dropped, and the record says so.
    """

    def __init__(self, *, gate: AppGate, logout_all_devices: LogoutAllDevices) -> None:
        self._gate = gate
        self._logout_all_devices = logout_all_devices

    async def __call__(self, *, call: InternalCall, reason: object = None) -> None:
        user_id = await self._gate.admit(call)
        revocation = Revocation.by_service(str(call.app_id), call.peer, reason)
        await self._logout_all_devices(user_id=user_id, revocation=revocation)
