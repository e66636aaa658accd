"""POST /api/v2/internal/tokens: a trusted service (the Laravel app) gets a token for a user."""

from __future__ import annotations

from revocation.domain.app_gate import AppGate, InternalCall
from revocation.domain.model import IssuedToken
from revocation.domain.use_cases.issue_token import IssueToken


class InternalIssueToken:
    """Admit the internal caller exactly as lgt-all does, then issue and log a token."""

    def __init__(self, *, gate: AppGate, issue_token: IssueToken) -> None:
        self._gate = gate
        self._issue_token = issue_token

    async def __call__(self, *, call: InternalCall, device: object) -> IssuedToken:
        return await self._issue_token(user_id=await self._gate.admit(call), device=device)
