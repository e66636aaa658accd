"""Request ids and JSON log lines: every record of a request carries its id, none a secret."""

from __future__ import annotations

import io
import json
import logging
import os
import sys
from collections.abc import Iterator

import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient

from revocation.adapters.log_context import request_id_var
from revocation.entrypoints.app import create_app
from revocation.entrypoints.http.request_id import request_id_from
from revocation.entrypoints.logs import JsonFormatter, RequestIdFilter, TextFormatter
from tests.app_factory import TEST_ENV, in_memory_container
from tests.fakes import DownBlacklist

CREDENTIALS = {"app_id": TEST_ENV["APP_ID"], "app_key": TEST_ENV["APP_KEY"]}


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """What the service's JSON handler would print, from every logger, at DEBUG."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


class TestRequestId:
    @pytest.mark.parametrize("path", ["/health/live", "/api/v2/logout", "/no/such/route"])
    async def test_a_safe_incoming_id_is_echoed_on_every_answer(self, path: str) -> None:
        async with AsyncTestClient(app=create_app(in_memory_container())) as client:
            response = await client.post(path, headers={"X-Request-Id": "req-42.a:b_c"})
        assert response.headers["x-request-id"] == "req-42.a:b_c"

    @pytest.mark.parametrize("incoming", [None, "", "a" * 65, "has space", "x\u00e9", "a;b"])
    def test_a_missing_or_unsafe_id_is_replaced(self, incoming: str | None) -> None:
        generated = request_id_from(incoming)
        assert generated != incoming
        assert len(generated) == 32
        assert request_id_from(incoming) != generated  # fresh each time

    def test_a_forked_worker_generates_ids_of_its_own(self) -> None:
        """Server workers fork from one parent: equal prefixes would mean colliding ids."""
        parent_id = request_id_from(None)
        reading, writing = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the child, which exits at once
            os.write(writing, request_id_from(None).encode())
            os._exit(0)
        os.close(writing)
        with os.fdopen(reading) as pipe:
            child_id = pipe.read()
        os.waitpid(child, 0)
        assert len(child_id) == 32
        assert child_id[:16] != parent_id[:16]  # the per-process random half
        assert request_id_from(None)[:16] == parent_id[:16]  # the parent's own is unchanged

    async def test_each_request_gets_its_own_generated_id(self) -> None:
        async with AsyncTestClient(app=create_app(in_memory_container())) as client:
            ids = {(await client.get("/health/live")).headers["x-request-id"] for _ in range(3)}
        assert len(ids) == 3
        assert request_id_var.get() is None  # nothing leaks out of a request


class TestJsonLogs:
    async def test_records_of_a_request_carry_its_id_and_event_fields(
        self, json_logs: io.StringIO
    ) -> None:
        async with AsyncTestClient(app=create_app(in_memory_container())) as client:
            await client.post(
                "/api/v2/logout", headers={"Authorization": "Bearer x", "X-Request-Id": "r-1"}
            )
        [summary] = [line for line in lines(json_logs) if line.get("event") == "token_rejections"]
        assert summary["request_id"] is None  # written at shutdown, outside any request
        assert summary["example_request_id"] == "r-1"
        assert (summary["reason"], summary["count"]) == ("invalid", 1)
        assert summary["level"] == "INFO"
        assert summary["logger"] == "revocation.events"
        assert summary["message"] == "token_rejections"
        assert str(summary["timestamp"]).endswith("+00:00")

    async def test_no_line_carries_a_token_or_a_secret(self, json_logs: io.StringIO) -> None:
        container = in_memory_container()
        container.blacklist.override(providers.Object(DownBlacklist()))  # warnings get logged
        async with AsyncTestClient(app=create_app(container)) as client:
            issued = await client.post(
                "/api/v2/internal/tokens", json={"user_id": 5, **CREDENTIALS}
            )
            token = issued.json()["token"]
            bearer = {"Authorization": f"Bearer {token}"}
            assert (await client.post("/api/v2/logout", headers=bearer)).status_code == 200
            assert (await client.post("/api/v2/logout", headers=bearer)).status_code == 401
            wrong = {**CREDENTIALS, "app_key": TEST_ENV["APP_KEY"] + "x"}
            await client.post("/api/v2/lgt-all", json={"user_id": 5, **wrong})
            await client.post("/api/v2/lgt-all", json={"user_id": 5, **CREDENTIALS})
        output = json_logs.getvalue()
        events = {line.get("event") for line in lines(json_logs)}
        assert {"token_rejections", "blacklist_unavailable", "tokens_revoked"} <= events
        assert "security.internal_auth_failed" in events
        for secret in (
            token,
            token.rsplit(".", 1)[1],  # the signature alone
            TEST_ENV["APP_KEY"],
            TEST_ENV["JWT_SECRET"],
        ):
            assert secret not in output

    def test_text_lines_show_a_dash_outside_requests(self) -> None:
        record = logging.LogRecord("t", logging.INFO, __file__, 1, "started", (), None)
        RequestIdFilter().filter(record)
        assert TextFormatter().format(record).endswith(" INFO t [-] started")
        assert getattr(record, "request_id", "unset") is None  # unchanged for other handlers

    def test_text_lines_end_with_the_event_fields(self) -> None:
        record = logging.makeLogRecord(
            {"name": "e", "levelname": "INFO", "msg": "token_rejected", "event": "token_rejected"}
        )
        record.reason = "revoked"
        assert TextFormatter().format(record).endswith("[-] token_rejected reason=revoked")

    def test_an_exception_is_one_json_line_with_its_trace(self) -> None:
        try:
            raise ValueError("boom")
        except ValueError:
            record = logging.LogRecord(
                "t", logging.ERROR, __file__, 1, "failed %s", ("x",), sys.exc_info()
            )
        line = JsonFormatter().format(record)
        assert "\n" not in line
        parsed = json.loads(line)
        assert parsed["message"] == "failed x"
        assert "ValueError: boom" in parsed["exception"]
