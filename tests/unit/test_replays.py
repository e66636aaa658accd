"""Replays: a revoked token with a valid signature, noted by the check, answered off its path."""

from __future__ import annotations

import pytest

from revocation.adapters.memory import InMemoryTokenLog
from revocation.adapters.replay_queue import ReplayQueue
from revocation.adapters.telemetry import RecordingTelemetry
from revocation.domain.audit import Reason, Revocation
from revocation.domain.errors import InvalidToken, TokenRevoked
from revocation.domain.model import Claims, LogState, TokenKey
from revocation.domain.replays import Ending, KnownEndings, Replay, ReplayAlert, ReplayPolicy
from tests.fakes import DownTokenLog
from tests.forged_tokens import hs256, payload_of
from tests.revocations import TEST_PEER
from tests.unit.harness import Harness, bearer

GRACE, WINDOW = 10, 300


async def logged_out(harness: Harness, user_id: int = 7) -> tuple[str, Claims]:
    """A token of the user, logged out by that user."""
    issued = await harness.issue_token()(user_id=user_id, device="stolen laptop")
    claims = harness.codec.verify(issued.token)
    await harness.logout()(
        claims=claims, revocation=Revocation.by_user(Reason.LOGOUT, claims.key, TEST_PEER)
    )
    return issued.token, claims


async def replay(harness: Harness, token: str, times: int = 1) -> None:
    for _ in range(times):
        with pytest.raises(TokenRevoked):
            await harness.authenticate()(authorization=bearer(token))


def alerts(harness: Harness) -> list[ReplayAlert]:
    found = [
        fields["alert"] for name, fields in harness.telemetry.events if name == "replay_alerted"
    ]
    return [alert for alert in found if isinstance(alert, ReplayAlert)]


def handled(harness: Harness) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name, fields in harness.telemetry.events:
        if name == "replays_handled":
            outcome = str(fields["outcome"])
            counts[outcome] = counts.get(outcome, 0) + int(str(fields["count"]))
    return counts


async def a_round(
    harness: Harness, policy: ReplayPolicy = "alert", *, grace: int = GRACE, window: int = WINDOW
) -> None:
    """What the replay task does each round."""
    respond = harness.respond_to_replays(policy, grace=grace, window=window)
    await respond(replays=harness.replays.take())


class TestTheCheckNotesReplays:
    async def test_notes_a_revoked_token_once_per_token_per_round(self) -> None:
        harness = Harness()
        token, claims = await logged_out(harness)

        await replay(harness, token, times=3)

        assert harness.replays.take() == [Replay(claims, count=3, peer=TEST_PEER)]
        assert harness.replays.take() == []

    async def test_notes_a_token_its_users_logout_all_killed(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=7)
        harness.clock.advance(1)
        await harness.logout_all()(
            user_id=7, revocation=Revocation.by_user(Reason.LOGOUT_ALL, issued.record.key, None)
        )

        await replay(harness, issued.token)

        assert [r.claims.key for r in harness.replays.take()] == [issued.record.key]

    async def test_never_notes_a_live_token(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=7)

        await harness.authenticate()(authorization=bearer(issued.token))

        assert harness.replays.take() == []

    async def test_never_notes_a_forged_copy_of_a_revoked_token(self) -> None:
        harness = Harness()
        token, _ = await logged_out(harness)

        with pytest.raises(InvalidToken):
            await harness.authenticate()(authorization=bearer(hs256(payload_of(token), "a guess")))

        assert harness.replays.take() == []


class TestReplayQueue:
    def test_holds_a_bounded_number_of_tokens_and_reports_the_rest_as_dropped(self) -> None:
        telemetry = RecordingTelemetry()
        queue = ReplayQueue(telemetry=telemetry, peer=lambda: None, max_tokens=2)
        claims = [a_claims(jti) for jti in ("a", "b", "c", "c")]

        for each in claims:
            queue.noted(each)

        assert [r.claims.key.jti for r in queue.take()] == ["a", "b"]
        assert telemetry.events == [("replays_handled", {"count": 2, "outcome": "dropped"})]

    def test_reads_the_peer_once_per_token_per_round(self) -> None:
        peers = iter(["198.51.100.1", "198.51.100.2"])
        queue = ReplayQueue(telemetry=RecordingTelemetry(), peer=lambda: next(peers))

        queue.noted(a_claims("a"))
        queue.noted(a_claims("a"))

        assert [(r.count, r.peer) for r in queue.take()] == [(2, "198.51.100.1")]


class TestRespondToReplays:
    async def test_counts_but_never_alerts_within_the_grace_period(self) -> None:
        harness = Harness()
        token, _ = await logged_out(harness)
        harness.clock.advance(GRACE - 1)

        await replay(harness, token, times=4)
        await a_round(harness, grace=GRACE)

        assert (alerts(harness), handled(harness)) == ([], {"grace": 4})

    async def test_alerts_once_per_window_with_the_count_so_far(self) -> None:
        harness = Harness()
        token, claims = await logged_out(harness)
        harness.clock.advance(GRACE - 1)
        await replay(harness, token, times=2)
        await a_round(harness, grace=GRACE)
        harness.clock.advance(1)

        for _ in range(3):  # three rounds in one window: one alert
            await replay(harness, token, times=5)
            await a_round(harness, grace=GRACE, window=WINDOW)

        [alert] = alerts(harness)
        assert (alert.user_id, alert.session_id, alert.count) == (7, claims.key.session_id, 7)
        assert (alert.peer, alert.action, alert.ending.everywhere) == (TEST_PEER, "none", False)
        assert handled(harness) == {"grace": 2, "alerted": 5, "repeat": 10}

    async def test_alerts_again_in_the_next_window(self) -> None:
        harness = Harness()
        token, _ = await logged_out(harness)
        harness.clock.advance(GRACE)
        await replay(harness, token)
        await a_round(harness, grace=GRACE, window=WINDOW)

        harness.clock.advance(WINDOW)
        await replay(harness, token)
        await a_round(harness, grace=GRACE, window=WINDOW)

        assert [alert.count for alert in alerts(harness)] == [1, 2]

    async def test_the_alert_policy_logs_no_one_out(self) -> None:
        harness = Harness()
        other = await harness.issue_token()(user_id=7)
        token, _ = await logged_out(harness)
        harness.clock.advance(GRACE)

        await replay(harness, token)
        await a_round(harness, policy="alert", grace=GRACE)

        assert await harness.authenticate()(authorization=bearer(other.token))

    async def test_revoke_user_logs_the_user_out_everywhere_and_records_why(self) -> None:
        harness = Harness()
        other = await harness.issue_token()(user_id=7, device="phone")
        token, claims = await logged_out(harness)
        harness.clock.advance(GRACE)

        await replay(harness, token)
        await a_round(harness, policy="revoke-user", grace=GRACE)

        with pytest.raises(TokenRevoked):
            await harness.authenticate()(authorization=bearer(other.token))
        newest = (await harness.audit_trail.history(7, before_id=None, limit=1))[0]
        assert (newest.reason, newest.actor_kind, newest.actor_name) == (
            "replay_detected",
            "policy",
            "replay",
        )
        assert (newest.actor_session_id, newest.actor_device, newest.peer) == (
            claims.key.session_id,
            "stolen laptop",
            TEST_PEER,
        )
        assert [alert.action for alert in alerts(harness)] == ["logged_out_everywhere"]

    async def test_revoke_user_acts_at_most_once_per_token(self) -> None:
        # Short periods: tokens are issued on this clock and verified on the real one.
        harness = Harness()
        token, _ = await logged_out(harness)
        harness.clock.advance(1)
        await replay(harness, token)
        await a_round(harness, policy="revoke-user", grace=1, window=2)
        harness.clock.advance(2)
        after = await harness.issue_token()(user_id=7)  # the user logs in again

        await replay(harness, token)  # the stolen token comes back in the next window
        await a_round(harness, policy="revoke-user", grace=1, window=2)

        assert await harness.authenticate()(authorization=bearer(after.token))
        assert [alert.action for alert in alerts(harness)] == ["logged_out_everywhere", "none"]
        assert [a.ending.everywhere for a in alerts(harness)] == [False, True]

    async def test_revoke_user_never_acts_for_a_token_a_logout_all_ended(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=7)
        harness.clock.advance(1)
        everywhere = Revocation.by_user(Reason.LOGOUT_ALL, issued.record.key, None)
        await harness.logout_all()(user_id=7, revocation=everywhere)
        await harness.background.finish()  # its row is blocked too now
        harness.clock.advance(1)
        later = await harness.issue_token()(user_id=7)

        await replay(harness, issued.token)
        await a_round(harness, policy="revoke-user", grace=1)

        assert await harness.authenticate()(authorization=bearer(later.token))
        assert [(a.action, a.ending.everywhere) for a in alerts(harness)] == [("none", True)]

    async def test_without_the_log_a_replay_is_counted_never_alerted(self) -> None:
        harness = Harness()
        token, _ = await logged_out(harness)
        harness.clock.advance(GRACE)
        await replay(harness, token)  # the fast layer knows it is revoked
        harness.token_log = DownTokenLog()

        await a_round(harness, policy="revoke-user", grace=GRACE)

        assert (alerts(harness), handled(harness)) == ([], {"unknown": 1})


class TestReadingTheLog:
    async def test_a_flood_over_many_rounds_reads_the_log_once_per_token(self) -> None:
        log = CountedLookups()
        harness = Harness(token_log=log)
        token, _ = await logged_out(harness)
        log.lookups = 0

        for _ in range(5):  # rounds in the grace period, then after it in one window
            await replay(harness, token, times=3)
            await a_round(harness, grace=GRACE)
            harness.clock.advance(GRACE / 2)

        assert handled(harness) == {"grace": 6, "alerted": 3, "repeat": 6}
        assert log.lookups == 2  # the first round, and the alert's fresh read

    async def test_an_alert_acts_on_the_log_as_it_is_now_not_as_remembered(self) -> None:
        # Remembered as ended by its own logout; then the user logged out everywhere (here by
        # hand; as well by this policy on another instance): the alert must not do it again.
        harness = Harness()
        token, _ = await logged_out(harness)
        await replay(harness, token)
        await a_round(harness, policy="revoke-user", grace=1)  # in grace: remembered
        harness.clock.advance(1)
        everywhere = Revocation.by_user(Reason.LOGOUT_ALL, a_claims("x").key, None)
        await harness.logout_all()(user_id=7, revocation=everywhere)
        harness.clock.advance(1)
        later = await harness.issue_token()(user_id=7)  # the user logs in again

        await replay(harness, token)
        await a_round(harness, policy="revoke-user", grace=1)

        assert await harness.authenticate()(authorization=bearer(later.token))
        assert [(a.action, a.ending.everywhere) for a in alerts(harness)] == [("none", True)]

    async def test_an_alert_whose_fresh_read_fails_is_sent_but_never_acts(self) -> None:
        harness = Harness()
        other = await harness.issue_token()(user_id=7)
        token, _ = await logged_out(harness)
        await replay(harness, token)
        await a_round(harness, policy="revoke-user", grace=1)  # in grace: remembered
        harness.clock.advance(1)
        harness.token_log, working = DownTokenLog(), harness.token_log

        await replay(harness, token)
        await a_round(harness, policy="revoke-user", grace=1)

        harness.token_log = working
        assert await harness.authenticate()(authorization=bearer(other.token))
        assert [(a.action, a.ending.everywhere) for a in alerts(harness)] == [("failed", False)]


class TestKnownEndings:
    def test_forgets_a_token_once_it_expired(self) -> None:
        known = KnownEndings()
        known.remember(a_claims("a").key, Ending(1.0, everywhere=False), until=10, now=0)

        assert known.get(a_claims("a").key, now=9.9) == Ending(1.0, everywhere=False)
        assert known.get(a_claims("a").key, now=10) is None

    def test_holds_a_bounded_number_dropping_the_expired_then_the_oldest(self) -> None:
        known = KnownEndings(max_tokens=2)
        ending = Ending(1.0, everywhere=False)
        known.remember(a_claims("old").key, ending, until=100, now=0)
        known.remember(a_claims("expired").key, ending, until=5, now=0)
        known.remember(a_claims("third").key, ending, until=100, now=6)  # the expired goes
        known.remember(a_claims("fourth").key, ending, until=100, now=6)  # then the oldest

        jtis = ("old", "expired", "third", "fourth")
        assert [jti for jti in jtis if known.get(a_claims(jti).key, now=7)] == ["third", "fourth"]


class CountedLookups(InMemoryTokenLog):
    """The harness's log, counting how often the replay watch asks it."""

    lookups = 0

    async def lookup(self, key: TokenKey, user_id: int) -> LogState:
        self.lookups += 1
        return await super().lookup(key, user_id)


def a_claims(jti: str) -> Claims:
    return Claims(key=TokenKey("issuer", jti), user_id=1, issued_at=0, expires_at=10)
