"""What a replay causes, off the request path: a count, one alert per window, maybe a logout."""

from __future__ import annotations

import math
from collections.abc import Sequence

from revocation.domain.audit import Actor, Reason, Revocation
from revocation.domain.errors import StorageUnavailable, TokenLogUnavailable
from revocation.domain.ports import Clock, ReplayTally, Telemetry, TokenLog
from revocation.domain.replays import (
    Counted,
    Ending,
    KnownEndings,
    Replay,
    ReplayAction,
    ReplayAlert,
    ReplayRules,
    ending_of,
)
from revocation.domain.use_cases.logout_all_devices import LogoutAllDevices


class RespondToReplays:
    """For each replayed token: ask the log when and how it was ended (once per token: see
    KnownEndings); within the grace period (a client's requests still in flight) only count;
    after it, count fleet-wide and alert once per window; with REPLAY_POLICY=revoke-user, the
    alert also logs the user out everywhere. A round's counts go to the tally in one call.

    That logout raises the user's watermark, which then kills the replayed token too: from then
    on it counts as ended by a logout-all, which the policy never acts on (the user, or the
    policy, already ended every session; acting again would let an old stolen token log the
    user out again and again). So the policy acts at most once per revoked token, which is why
    an alert reads the log again before it acts rather than trust what this process remembers.
    """

    def __init__(
        self,
        *,
        token_log: TokenLog,
        tally: ReplayTally,
        telemetry: Telemetry,
        clock: Clock,
        rules: ReplayRules,
        leeway_seconds: int,
        logout_all_devices: LogoutAllDevices,
        known_endings: KnownEndings,
    ) -> None:
        self._token_log = token_log
        self._tally = tally
        self._telemetry = telemetry
        self._clock = clock
        self._rules = rules
        self._leeway = leeway_seconds
        self._logout_all_devices = logout_all_devices
        self._known = known_endings

    async def __call__(self, *, replays: Sequence[Replay]) -> None:
        dated: list[tuple[Replay, Ending]] = []
        for replay in replays:
            ending = await self._ending_of(replay)
            if ending is None:  # nothing to date a grace period from: counted, never alerted
                self._telemetry.replays_handled(replay.count, outcome="unknown")
            else:
                dated.append((replay, ending))
        now = self._clock.now()
        in_grace = [now < ending.revoked_at + self._rules.grace_seconds for _, ending in dated]
        tallies = await self._tally.add(
            [
                Counted(
                    replay.claims.key.session_id,
                    replay.count,
                    alert_window=None if grace else self._rules.window_seconds,
                    ttl_seconds=self._ttl(replay, now),
                )
                for (replay, _), grace in zip(dated, in_grace, strict=True)
            ]
        )
        for (replay, ending), grace, tally in zip(dated, in_grace, tallies, strict=True):
            if grace or not tally.alert:
                outcome = "grace" if grace else "repeat"
                self._telemetry.replays_handled(replay.count, outcome=outcome)
            else:
                await self._alert_on(replay, ending, tally.total)

    def _ttl(self, replay: Replay, now: float) -> int:
        """As long as the token could still be presented."""
        return max(1, math.ceil(replay.claims.expires_at + self._leeway - now))

    async def _ending_of(self, replay: Replay) -> Ending | None:
        now = self._clock.now()
        known = self._known.get(replay.claims.key, now)
        return known if known is not None else await self._read_ending(replay)

    async def _read_ending(self, replay: Replay) -> Ending | None:
        """The log's word now, remembered until the token expires; None when it cannot say."""
        claims = replay.claims
        try:
            ending = ending_of(claims, await self._token_log.lookup(claims.key, claims.user_id))
        except TokenLogUnavailable:
            return None
        if ending is not None:
            now = self._clock.now()
            self._known.remember(claims.key, ending, until=now + self._ttl(replay, now), now=now)
        return ending

    async def _alert_on(self, replay: Replay, remembered: Ending, total: int) -> None:
        fresh = await self._read_ending(replay)
        if fresh is None:  # the log failed: alert on what is known; act only on fresh facts
            action: ReplayAction = "none" if self._rules.policy != "revoke-user" else "failed"
        else:
            action = await self._act(replay, fresh)
        self._telemetry.replays_handled(replay.count, outcome="alerted")
        self._telemetry.replay_alerted(self._alert(replay, total, fresh or remembered, action))

    def _alert(
        self, replay: Replay, total: int, ending: Ending, action: ReplayAction
    ) -> ReplayAlert:
        return ReplayAlert(
            user_id=replay.claims.user_id,
            session_id=replay.claims.key.session_id,
            peer=replay.peer,
            count=total,
            ending=ending,
            window_seconds=self._rules.window_seconds,
            action=action,
        )

    async def _act(self, replay: Replay, ending: Ending) -> ReplayAction:
        if self._rules.policy != "revoke-user" or ending.everywhere:
            return "none"
        revocation = Revocation(
            Reason.REPLAY_DETECTED, Actor.replay_policy(replay.claims.key), replay.peer
        )
        try:
            await self._logout_all_devices(user_id=replay.claims.user_id, revocation=revocation)
        except TokenLogUnavailable:
            return "failed"  # not durable: the next window's alert tries again
        except StorageUnavailable:
            pass  # durable; the fast layer missed it and the repair will push it
        return "logged_out_everywhere"
