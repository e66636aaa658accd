"""The audit and replay events a SIEM keys on: stable names and fields, never the token."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from revocation.adapters.telemetry import LoggingTelemetry, RefusalSummary
from revocation.domain.audit import Actor, Reason, Revocation
from revocation.domain.model import TokenKey
from revocation.domain.replays import Ending, ReplayAlert
from revocation.entrypoints.app import create_app
from revocation.entrypoints.logs import JsonFormatter
from tests.app_factory import TEST_ENV, in_memory_container

CREDENTIALS = {"app_id": TEST_ENV["APP_ID"], "app_key": TEST_ENV["APP_KEY"]}
ALERT_FIELDS = {
    "event", "count", "user_id", "session_id", "peer", "replay_count", "revoked_at",
    "revoked_by", "window_seconds", "action",
}  # fmt: skip
REVOCATION_FIELDS = {
    "event", "count", "user_id", "session_id", "reason", "actor_kind", "actor_name",
    "actor_session_id", "peer", "note", "note_dropped",
}  # fmt: skip


def json_lines(caplog: pytest.LogCaptureFixture, event: str) -> list[dict[str, object]]:
    formatter = JsonFormatter()
    lines = [json.loads(formatter.format(r)) for r in caplog.records]
    return [line for line in lines if line.get("event") == event]


def fields_of(line: dict[str, object]) -> set[str]:
    return set(line) - {"timestamp", "level", "logger", "message", "request_id"}


class TestEventShapes:
    def test_the_alert_is_one_warning_with_its_documented_fields(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        alert = ReplayAlert(
            user_id=42,
            session_id="q1vN0m5tYkS8c2bUo4dR7w",
            peer="203.0.113.9",
            count=3,
            ending=Ending(revoked_at=1_764_090_000.0, everywhere=False),
            window_seconds=300,
            action="logged_out_everywhere",
        )
        with caplog.at_level(logging.INFO, logger="revocation.events"):
            LoggingTelemetry(RefusalSummary()).replay_alerted(alert)

        [line] = json_lines(caplog, "revoked_token_replayed")
        assert fields_of(line) == ALERT_FIELDS
        assert line["level"] == "WARNING"
        assert (line["replay_count"], line["revoked_by"]) == (3, "token")
        assert line["revoked_at"] == "2025-11-25T17:00:00+00:00"

    def test_a_revocation_is_one_line_naming_who_and_why(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        revocation = Revocation(
            Reason.SERVICE_LOGOUT_ALL, Actor.service("laravel"), "10.0.0.1", "fraud", False
        )
        with caplog.at_level(logging.INFO, logger="revocation.events"):
            LoggingTelemetry(RefusalSummary()).revocation_recorded(42, None, revocation)

        [line] = json_lines(caplog, "revocation")
        assert fields_of(line) == REVOCATION_FIELDS
        assert (line["reason"], line["actor_kind"], line["actor_name"]) == (
            "service_logout_all",
            "service",
            "laravel",
        )

    def test_a_users_revocation_names_its_session_not_its_token(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        key = TokenKey("issuer", "a-secret-ish-jti")
        revocation = Revocation.by_user(Reason.LOGOUT, key, "10.0.0.1")
        with caplog.at_level(logging.INFO, logger="revocation.events"):
            LoggingTelemetry(RefusalSummary()).revocation_recorded(42, key.session_id, revocation)

        [line] = json_lines(caplog, "revocation")
        assert line["actor_session_id"] == line["session_id"] == key.session_id
        assert "a-secret-ish-jti" not in json.dumps(line)

    def test_handled_replays_write_no_line(self, caplog: pytest.LogCaptureFixture) -> None:
        with caplog.at_level(logging.DEBUG):
            LoggingTelemetry(RefusalSummary()).replays_handled(10_000, outcome="repeat")

        assert caplog.records == []


class TestThroughTheApp:
    async def test_a_replay_is_alerted_and_counted_off_the_request_path(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        container = in_memory_container(REPLAY_GRACE_SECONDS="0")
        async with AsyncTestClient(app=create_app(container)) as client:
            body = {"user_id": 5, **CREDENTIALS}
            token = (await client.post("/api/v2/internal/tokens", json=body)).json()["token"]
            bearer = {"Authorization": f"Bearer {token}"}
            assert (await client.post("/api/v2/logout", headers=bearer)).status_code == 200
            with caplog.at_level(logging.INFO, logger="revocation.events"):
                for _ in range(20):
                    assert (
                        await client.get("/api/v2/auth/verify", headers=bearer)
                    ).status_code == 401
                metrics = await wait_for_alert(client)

        assert 'revocation_replay_alerts_total{action="none"} 1.0' in metrics
        assert 'revocation_token_replays_total{outcome="alerted"}' in metrics
        [alert] = json_lines(caplog, "revoked_token_replayed")
        assert (alert["user_id"], alert["peer"]) == (5, "testclient")
        assert token.rsplit(".", 1)[1] not in json.dumps(alert)


async def wait_for_alert(client: AsyncTestClient[Litestar]) -> str:
    for _ in range(50):
        metrics = (await client.get("/metrics")).text
        if "revocation_replay_alerts_total{" in metrics:
            return str(metrics)
        await asyncio.sleep(0.05)
    raise AssertionError("no replay alert within 2.5 s")
