"""What a replay causes, off the request path: a count, one alert per window, maybe a logout."""

from __future__ import annotations

import math
from collections.abc import Sequence

from revocation.domain.audit import Actor, Reason, Revocation
from revocation.domain.errors import StorageUnavailable, TokenLogUnavailable
from revocation.domain.ports import Clock, ReplayTally, Telemetry, TokenLog
from revocation.domain.replays import (
    Ending,
    Replay,
    ReplayAction,
    ReplayAlert,
    ReplayRules,
    ending_of,
)
from revocation.domain.use_cases.logout_all_devices import LogoutAllDevices


class RespondToReplays:
    """For each replayed token: ask the log when and how it was ended; within the grace period
    (a client's requests still in flight) only count; after it, count fleet-wide and alert once
    per window; with REPLAY_POLICY=revoke-user, the alert also logs the user out everywhere.

    That logout raises the user's watermark, which then kills the replayed token too: from then
    on it counts as ended by a logout-all, which the policy never acts on (the user, or the
    policy, already ended every session; acting again would let an old stolen token log the
    user out again and again). So the policy acts at most once per revoked token.
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
    ) -> None:
        self._token_log = token_log
        self._tally = tally
        self._telemetry = telemetry
        self._clock = clock
        self._rules = rules
        self._leeway = leeway_seconds
        self._logout_all_devices = logout_all_devices

    async def __call__(self, *, replays: Sequence[Replay]) -> None:
        for replay in replays:
            await self._respond(replay)

    async def _respond(self, replay: Replay) -> None:
        claims = replay.claims
        ending = await self._ending_of(replay)
        if ending is None:  # nothing to date a grace period from: counted, never alerted
            self._telemetry.replays_handled(replay.count, outcome="unknown")
            return
        now = self._clock.now()
        in_grace = now < ending.revoked_at + self._rules.grace_seconds
        tally = await self._tally.add(
            claims.key.session_id,
            replay.count,
            alert_window=None if in_grace else self._rules.window_seconds,
            ttl_seconds=max(1, math.ceil(claims.expires_at + self._leeway - now)),
        )
        if in_grace or not tally.alert:
            self._telemetry.replays_handled(replay.count, outcome="grace" if in_grace else "repeat")
            return
        action = await self._act(replay, ending)
        self._telemetry.replays_handled(replay.count, outcome="alerted")
        self._telemetry.replay_alerted(self._alert(replay, tally.total, ending, action))

    async def _ending_of(self, replay: Replay) -> Ending | None:
        claims = replay.claims
        try:
            return ending_of(claims, await self._token_log.lookup(claims.key, claims.user_id))
        except TokenLogUnavailable:
            return None

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
