"""A history record told in words a user understands: what ended, why, and by whom."""

from __future__ import annotations

from revocation.domain.audit import AuditRecord, Reason


def describe(record: AuditRecord) -> str:
    """One sentence (English) for the account page; the codes beside it are for programs."""
    device, actor_device = _on(record.device), _on(record.actor_device)
    match record.reason:
        case Reason.LOGOUT:
            return f"You logged out{device}."
        case Reason.LOGOUT_ALL:
            return f"You logged out of all your sessions{_from(record.actor_device)}."
        case Reason.SESSION_REVOKED:
            return f"You ended the session{device}{_from(record.actor_device)}."
        case Reason.SERVICE_LOGOUT_ALL:
            return "All your sessions were ended by the application." + _given(record.note)
        case Reason.REPLAY_DETECTED:
            return (
                "All your sessions were ended to protect your account: a session you had "
                f"logged out{actor_device} was used again."
            )
        case Reason.OAUTH_REVOCATION:
            by = f" {record.actor_name}" if record.actor_name else ""
            return f"The session{device} was revoked by the app{by}."
        case _:  # a reason a newer version wrote
            return f"Your session{device} was ended ({record.reason})."


def _on(device: str | None) -> str:
    return f' on "{device}"' if device else ""


def _from(device: str | None) -> str:
    return f' from "{device}"' if device else ""


def _given(note: str | None) -> str:
    if not note:
        return ""
    return f" Reason given: {note}" + ("" if note.endswith((".", "!", "?")) else ".")
