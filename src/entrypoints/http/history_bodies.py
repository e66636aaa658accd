"""The history's answers: what each record says to the user, and the more the service sees."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from revocation.domain.audit import AuditRecord, HistoryPage
from revocation.entrypoints.http.history_words import describe


class SessionRef(msgspec.Struct, frozen=True):
    id: Annotated[str, msgspec.Meta(description="The session's opaque id, as GET /sessions shows")]
    device: Annotated[str | None, msgspec.Meta(description="Its label given at issuance")]


class ActorBody(msgspec.Struct, frozen=True):
    kind: Annotated[str, msgspec.Meta(description="`user`, `service`, `policy`, `oauth_client`")]
    name: Annotated[str | None, msgspec.Meta(description="The OAuth client or policy")]
    session: Annotated[
        SessionRef | None,
        msgspec.Meta(description="The user's session it acted from; a policy's: the replayed one"),
    ]
    ip: Annotated[str | None, msgspec.Meta(description="Where it came from (users, replays)")]


class HistoryEntry(msgspec.Struct, frozen=True):
    ended_at: Annotated[int, msgspec.Meta(description="Unix seconds")]
    session: Annotated[SessionRef | None, msgspec.Meta(description="null: every session")]
    reason: Annotated[str, msgspec.Meta(description="A stable code (docs/audit.md)")]
    actor: ActorBody
    note: Annotated[str | None, msgspec.Meta(description="The application's reason, if given")]
    description: Annotated[str, msgspec.Meta(description="The record in a sentence")]


class HistoryBody(msgspec.Struct, frozen=True):
    history: list[HistoryEntry]
    next_cursor: Annotated[str | None, msgspec.Meta(description="null: the last page")]


class ServiceHistoryEntry(HistoryEntry, frozen=True):
    user_id: int
    note_dropped: Annotated[bool, msgspec.Meta(description="A reason was sent but not kept")]


class ServiceHistoryBody(msgspec.Struct, frozen=True):
    history: list[ServiceHistoryEntry]
    next_cursor: str | None


def _session(session_id: str | None, device: str | None) -> SessionRef | None:
    return None if session_id is None else SessionRef(id=session_id, device=device)


def _entry(record: AuditRecord, *, service_view: bool) -> dict[str, Any]:
    """The fields both views share; the user's hides the service's name and address."""
    internal = record.actor_kind in ("service", "oauth_client") and not service_view
    actor = ActorBody(
        kind=record.actor_kind,
        name=None if record.actor_kind == "service" and not service_view else record.actor_name,
        session=_session(record.actor_session_id, record.actor_device),
        ip=None if internal else record.peer,
    )
    return {
        "ended_at": int(record.revoked_at),
        "session": _session(record.session_id, record.device),
        "reason": record.reason,
        "actor": actor,
        "note": record.note,
        "description": describe(record),
    }


def user_view(page: HistoryPage) -> HistoryBody:
    entries = [HistoryEntry(**_entry(record, service_view=False)) for record in page.records]
    return HistoryBody(history=entries, next_cursor=page.next_cursor)


def service_view(page: HistoryPage) -> ServiceHistoryBody:
    entries = [
        ServiceHistoryEntry(
            **_entry(record, service_view=True),
            user_id=record.user_id,
            note_dropped=record.note_dropped,
        )
        for record in page.records
    ]
    return ServiceHistoryBody(history=entries, next_cursor=page.next_cursor)
