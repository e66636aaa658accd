"""The use cases report what monitoring needs, and never the token itself."""

from __future__ import annotations

import logging

import pytest

from revocation.adapters.clock import ManualClock
from revocation.adapters.log_context import request_id_var
from revocation.adapters.telemetry import LoggingTelemetry, RefusalSummary
from revocation.domain.app_gate import InternalCall
from revocation.domain.errors import InvalidAppCredentials, TokenRevoked, Unauthorized
from tests.fakes import DownBlacklist
from tests.revocations import LOGOUT, LOGOUT_ALL
from tests.unit.harness import APP_ID, Harness, bearer


class TestReportedEvents:
    async def test_a_rejection_is_reported_with_its_reason(self) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=1)
        await harness.logout()(claims=harness.codec.verify(issued.token), revocation=LOGOUT)
        with pytest.raises(TokenRevoked):
            await harness.authenticate()(authorization=bearer(issued.token))
        with pytest.raises(Unauthorized):
            await harness.authenticate()(authorization="Bearer nonsense")
        rejections = [
            fields for name, fields in harness.telemetry.events if name == "token_rejected"
        ]
        assert rejections == [{"reason": "revoked"}, {"reason": "invalid"}]

    async def test_revocations_are_counted_by_scope(self) -> None:
        harness = Harness()
        tokens = [await harness.issue_token()(user_id=1) for _ in range(3)]
        await harness.logout()(claims=harness.codec.verify(tokens[0].token), revocation=LOGOUT)
        harness.clock.advance(1)
        await harness.logout_all()(user_id=1, revocation=LOGOUT_ALL)
        await harness.background.finish()
        revoked = [fields for name, fields in harness.telemetry.events if name == "tokens_revoked"]
        assert revoked == [{"count": 1, "scope": "token"}, {"count": 2, "scope": "user"}]

    async def test_a_redis_fallback_is_reported_for_each_operation(self) -> None:
        harness = Harness(blacklist=DownBlacklist())
        issued = await harness.issue_token()(user_id=1)
        claims = await harness.authenticate()(authorization=bearer(issued.token))
        await harness.logout()(claims=claims, revocation=LOGOUT)
        await harness.logout_all()(user_id=1, revocation=LOGOUT_ALL)
        fallbacks = [
            f["operation"] for n, f in harness.telemetry.events if n == "blacklist_unavailable"
        ]
        assert fallbacks == ["lookup", "logout", "logout_all"]

    async def test_failed_internal_calls_are_security_events_per_peer(self) -> None:
        harness = Harness(max_failures=2)
        for _ in range(3):
            with pytest.raises(InvalidAppCredentials):
                await harness.internal_logout_all()(
                    call=InternalCall(user_id=1, app_id=APP_ID, app_key="x", peer="p1")
                )
        failures = [f for n, f in harness.telemetry.events if n == "internal_auth_failed"]
        assert failures == [
            {"peer": "p1", "throttled": False},
            {"peer": "p1", "throttled": False},
            {"peer": "p1", "throttled": True},
        ]


class TestLoggingTelemetry:
    def test_logs_structured_events_with_a_running_count(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        telemetry = LoggingTelemetry(RefusalSummary())
        with caplog.at_level(logging.INFO, logger="revocation.events"):
            telemetry.tokens_revoked(1, scope="token")
            telemetry.tokens_revoked(1, scope="token")
        records = [r for r in caplog.records if getattr(r, "event", None) == "tokens_revoked"]
        assert [getattr(r, "count", None) for r in records] == [1, 2]
        assert all(getattr(r, "scope", None) == "token" for r in records)


class TestRefusalSummary:
    def summaries(self, caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
        fields = ("reason", "count", "example_request_id", "interval_seconds")
        return [
            {name: getattr(record, name) for name in fields}
            for record in caplog.records
            if getattr(record, "event", None) == "token_rejections"
        ]

    def test_a_flood_is_one_line_per_reason_per_interval(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        clock = ManualClock(start=100.0)
        telemetry = LoggingTelemetry(RefusalSummary(60, monotonic=clock.now))
        with caplog.at_level(logging.INFO, logger="revocation.events"):
            for n in range(1000):
                token = request_id_var.set(f"request-{n}")
                telemetry.token_rejected("revoked" if n % 2 else "invalid")
                request_id_var.reset(token)
            assert self.summaries(caplog) == []  # nothing before the interval ends
            clock.advance(60)
            telemetry.token_rejected("revoked")
        assert sorted(self.summaries(caplog), key=str) == [
            {"reason": "invalid", "count": 500, "example_request_id": "request-0",
             "interval_seconds": 60.0},
            {"reason": "revoked", "count": 501, "example_request_id": "request-1",
             "interval_seconds": 60.0},
        ]  # fmt: skip
        assert len(caplog.records) == 2

    def test_flush_writes_what_the_interval_counted_so_far(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        clock = ManualClock(start=0.0)
        summary = RefusalSummary(60, monotonic=clock.now)
        summary.note("not_logged")
        clock.advance(2.5)
        with caplog.at_level(logging.INFO, logger="revocation.events"):
            summary.flush()
            summary.flush()  # nothing new: nothing written
        assert self.summaries(caplog) == [
            {"reason": "not_logged", "count": 1, "example_request_id": None,
             "interval_seconds": 2.5}
        ]  # fmt: skip

    async def test_no_event_carries_the_raw_token(self, caplog: pytest.LogCaptureFixture) -> None:
        harness = Harness()
        issued = await harness.issue_token()(user_id=1)
        await harness.logout()(claims=harness.codec.verify(issued.token), revocation=LOGOUT)
        with caplog.at_level(logging.DEBUG):
            telemetry = LoggingTelemetry(RefusalSummary(0))  # every refusal: a line at once
            harness.telemetry = telemetry  # type: ignore[assignment]
            with pytest.raises(TokenRevoked):
                await harness.authenticate()(authorization=bearer(issued.token))
        assert caplog.records
        signature = issued.token.rsplit(".", 1)[1]
        for record in caplog.records:
            assert signature not in record.getMessage()
            assert signature not in str(record.__dict__)
