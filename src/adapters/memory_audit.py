"""The audit trail in memory: what InMemoryTokenLog's revocations record, with the semantics
of the database's table (one contract suite runs on both)."""

from __future__ import annotations

import itertools

from revocation.domain.audit import AuditRecord, Revocation
from revocation.domain.ports import AuditTrail


class InMemoryAuditTrail:
    """Records in a list, in the order they were written (their ids increase)."""

    def __init__(self) -> None:
        self._records: list[AuditRecord] = []
        self._ids = itertools.count(1)

    def append(
        self,
        user_id: int,
        revoked_at: float,
        session: tuple[str, str | None] | None,
        revocation: Revocation,
        actor_device: str | None,
    ) -> None:
        """Record `revocation`; `session`: the ended one's (id, device), None for all."""
        actor = revocation.actor
        session_id, device = session if session is not None else (None, None)
        self._records.append(
            AuditRecord(
                record_id=next(self._ids),
                user_id=user_id,
                revoked_at=revoked_at,
                session_id=session_id,
                device=device,
                reason=revocation.reason.value,
                actor_kind=actor.kind,
                actor_name=actor.name,
                actor_session_id=actor.session.session_id if actor.session else None,
                actor_device=actor_device,
                peer=revocation.peer,
                note=revocation.note,
                note_dropped=revocation.note_dropped,
            )
        )

    async def history(
        self, user_id: int, *, before_id: int | None, limit: int
    ) -> list[AuditRecord]:
        found = [
            record
            for record in reversed(self._records)
            if record.user_id == user_id and (before_id is None or record.record_id < before_id)
        ]
        return found[:limit]

    async def purge_before(self, before: float, batch_size: int) -> int:
        old = sorted(
            (record for record in self._records if record.revoked_at < before),
            key=lambda record: record.revoked_at,
        )[:batch_size]
        gone = {record.record_id for record in old}
        self._records = [record for record in self._records if record.record_id not in gone]
        return len(gone)


_: AuditTrail = InMemoryAuditTrail()
