"""Telemetry as structured log events with per-process counters, and a recorder for tests."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from revocation.adapters.log_context import request_id_var
from revocation.domain.audit import Revocation
from revocation.domain.ports import Telemetry
from revocation.domain.replays import ReplayAlert

logger = logging.getLogger("revocation.events")

DEFAULT_REFUSAL_INTERVAL_SECONDS = 60.0


@dataclass(slots=True)
class _Refusals:
    count: int
    example_request_id: str | None


class RefusalSummary:
    """Refused tokens counted per reason and written as one line per reason per interval.

    A flood of forged or replayed tokens then costs a bounded number of log lines a minute
    instead of one per request (a 30 s replay wrote 109,621 lines and halved the refusal
    rate); each line carries one request id of its interval, to find a real example.
    """

    def __init__(
        self,
        interval_seconds: float = DEFAULT_REFUSAL_INTERVAL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = interval_seconds
        self._monotonic = monotonic
        self._started = monotonic()
        self._due = self._started + interval_seconds  # one comparison per refusal
        self._by_reason: dict[str, _Refusals] = {}

    def note(self, reason: str) -> None:
        refusals = self._by_reason.get(reason)
        if refusals is None:
            self._by_reason[reason] = _Refusals(1, request_id_var.get())
        else:
            refusals.count += 1
        if self._monotonic() >= self._due:
            self.flush()

    def flush(self) -> None:
        """Write what the interval so far counted (also called by a timer and at shutdown)."""
        now = self._monotonic()
        counted, self._by_reason, started, self._started = self._by_reason, {}, self._started, now
        self._due = now + self._interval
        for reason, refusals in counted.items():
            logger.info(
                "token_rejections",
                extra={
                    "event": "token_rejections",
                    "reason": reason,
                    "count": refusals.count,
                    "example_request_id": refusals.example_request_id,
                    "interval_seconds": round(now - started, 3),
                },
            )


class LoggingTelemetry:
    """Each event is one log record with `event` and fields in `extra`, plus a running count;
    refused tokens, which anyone can send by the thousand, are summarised (RefusalSummary).

    The count rides along in the record (`count`), so a log pipeline can alert on repeats
    (a brute-forcing peer) without a metrics system.
    """

    def __init__(self, refusals: RefusalSummary) -> None:
        self.counts: Counter[str] = Counter()
        # A refused token is counted there, per reason: the summary's own method, called
        # straight, since a flood of refusals pays for every frame on the way.
        self.token_rejected: Callable[[str], None] = refusals.note

    def tokens_revoked(self, count: int, *, scope: str) -> None:
        self._emit(logging.INFO, "tokens_revoked", scope=scope, tokens=count)

    def blacklist_unavailable(self, operation: str) -> None:
        self._emit(logging.WARNING, "blacklist_unavailable", operation=operation)

    def internal_auth_failed(self, peer: str, *, throttled: bool) -> None:
        self._emit(logging.WARNING, "security.internal_auth_failed", peer=peer, throttled=throttled)

    def revocation_recorded(
        self, user_id: int, session_id: str | None, revocation: Revocation
    ) -> None:
        actor = revocation.actor
        self._emit(
            logging.INFO,
            "revocation",
            user_id=user_id,
            session_id=session_id,
            reason=revocation.reason.value,
            actor_kind=actor.kind,
            actor_name=actor.name,
            actor_session_id=actor.session.session_id if actor.session else None,
            peer=revocation.peer,
            note=revocation.note,
            note_dropped=revocation.note_dropped,
        )

    def replays_handled(self, count: int, *, outcome: str) -> None:
        self.counts[f"replays_{outcome}"] += count  # a count, never a line: floods are cheap

    def replay_alerted(self, alert: ReplayAlert) -> None:
        self._emit(
            logging.WARNING,
            "revoked_token_replayed",
            user_id=alert.user_id,
            session_id=alert.session_id,
            peer=alert.peer,
            replay_count=alert.count,
            revoked_at=_iso(alert.ending.revoked_at),
            revoked_by="logout_all" if alert.ending.everywhere else "token",
            window_seconds=alert.window_seconds,
            action=alert.action,
        )

    def _emit(self, level: int, event: str, **fields: object) -> None:
        self.counts[event] += 1
        if logger.isEnabledFor(level):  # no idle dict building when the level is off
            logger.log(level, event, extra={"event": event, "count": self.counts[event], **fields})


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


class RecordingTelemetry:
    """Keeps every event in a list: assert on what a use case reported."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, object]]] = []

    def token_rejected(self, reason: str) -> None:
        self.events.append(("token_rejected", {"reason": reason}))

    def tokens_revoked(self, count: int, *, scope: str) -> None:
        self.events.append(("tokens_revoked", {"count": count, "scope": scope}))

    def blacklist_unavailable(self, operation: str) -> None:
        self.events.append(("blacklist_unavailable", {"operation": operation}))

    def internal_auth_failed(self, peer: str, *, throttled: bool) -> None:
        self.events.append(("internal_auth_failed", {"peer": peer, "throttled": throttled}))

    def revocation_recorded(
        self, user_id: int, session_id: str | None, revocation: Revocation
    ) -> None:
        self.events.append(
            (
                "revocation_recorded",
                {"user_id": user_id, "session_id": session_id, "revocation": revocation},
            )
        )

    def replays_handled(self, count: int, *, outcome: str) -> None:
        self.events.append(("replays_handled", {"count": count, "outcome": outcome}))

    def replay_alerted(self, alert: ReplayAlert) -> None:
        self.events.append(("replay_alerted", {"alert": alert}))

    def names(self) -> list[str]:
        return [name for name, _ in self.events]


_: Telemetry = LoggingTelemetry(RefusalSummary())
__: Telemetry = RecordingTelemetry()
