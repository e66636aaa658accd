"""Telemetry as structured log events with per-process counters, and a recorder for tests."""

from __future__ import annotations

import logging
from collections import Counter

from domain.ports import Telemetry

logger = logging.getLogger("revocation.events")


class LoggingTelemetry:
    """Each event is one log record with `event` and fields in `extra`, plus a running count.

    The count rides along in the record (`count`), so a log pipeline can alert on repeats
    (repeated rejections, a brute-forcing peer) without a metrics system.
    """

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def token_rejected(self, reason: str) -> None:
        self._emit(logging.INFO, "token_rejected", reason=reason)

    def tokens_revoked(self, count: int, *, scope: str) -> None:
        self._emit(logging.INFO, "tokens_revoked", scope=scope, tokens=count)

    def blacklist_unavailable(self, operation: str) -> None:
        self._emit(logging.WARNING, "blacklist_unavailable", operation=operation)

    def internal_auth_failed(self, peer: str, *, throttled: bool) -> None:
        self._emit(logging.WARNING, "security.internal_auth_failed", peer=peer, throttled=throttled)

    def _emit(self, level: int, event: str, **fields: object) -> None:
        self.counts[event] += 1
        if logger.isEnabledFor(level):  # every refused token passes here: no idle dict building
            logger.log(level, event, extra={"event": event, "count": self.counts[event], **fields})


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

    def names(self) -> list[str]:
        return [name for name, _ in self.events]


_: Telemetry = LoggingTelemetry()
__: Telemetry = RecordingTelemetry()
