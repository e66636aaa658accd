"""Replays noted on the request path, handed to RespondToReplays by a task off that path."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from revocation.domain.model import Claims
from revocation.domain.ports import ReplayWatch, Telemetry
from revocation.domain.replays import Replay

logger = logging.getLogger(__name__)

DEFAULT_MAX_TOKENS = 10_000
# A round's work grows with the distinct tokens replayed (a tally script each): at 0.2 s, 100
# tokens replayed in a loop cost the refusals about 7 % of their rate under load; at 1 s, an
# alert still comes within a second or two.
DEFAULT_ROUND_SECONDS = 1.0

Respond = Callable[[list[Replay]], Awaitable[None]]


@dataclass(slots=True)
class _Pending:
    claims: Claims
    count: int
    peer: str | None


class ReplayQueue:
    """The ReplayWatch port: a replay costs the request one dictionary update (per token, its
    count goes up); the first of a token in a round also reads who sent it (`peer`, the HTTP
    edge's). A task takes what a round gathered and responds to it: at most one round in flight,
    so a flood of one token costs one lookup and one Redis call per round, never per request.

    Bounded: a round holds at most `max_tokens` tokens; replays of more are counted as dropped.
    """

    def __init__(
        self,
        *,
        telemetry: Telemetry,
        peer: Callable[[], str | None],
        max_tokens: int = DEFAULT_MAX_TOKENS,
        round_seconds: float = DEFAULT_ROUND_SECONDS,
    ) -> None:
        self._telemetry = telemetry
        self._peer = peer
        self._max_tokens = max_tokens
        self._round_seconds = round_seconds
        # Keyed by the pair itself: a tuple of two strings hashes without a Python call, and a
        # flood of one token pays this lookup on every request.
        self._pending: dict[tuple[str, str], _Pending] = {}
        self._dropped = 0

    def noted(self, claims: Claims) -> None:
        pair = (claims.key.issuer, claims.key.jti)
        pending = self._pending.get(pair)
        if pending is not None:
            pending.count += 1
        elif len(self._pending) < self._max_tokens:
            self._pending[pair] = _Pending(claims, 1, self._peer())
        else:
            self._dropped += 1

    def take(self) -> list[Replay]:
        """What the round gathered, per token; the queue starts a new round."""
        pending, self._pending = self._pending, {}
        if self._dropped:
            self._telemetry.replays_handled(self._dropped, outcome="dropped")
            self._dropped = 0
        return [Replay(p.claims, p.count, p.peer) for p in pending.values()]

    async def respond_forever(self, respond: Respond) -> None:
        """Each round: wait, take, respond; a failed round is logged, the next one goes on."""
        while True:
            await asyncio.sleep(self._round_seconds)
            if not self._pending and not self._dropped:
                continue
            try:
                await respond(self.take())
            except Exception:  # a bug here must not end the loop; logged with its trace
                logger.exception("replays: a round failed")


class IgnoredReplays:
    """REPLAY_POLICY=off: replays are only counted as refused tokens (`token_rejections`)."""

    def noted(self, claims: Claims) -> None:
        return None


_: type[ReplayWatch] = ReplayQueue
__: type[ReplayWatch] = IgnoredReplays
