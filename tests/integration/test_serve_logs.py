"""`revocation serve` as deployed logs JSON lines with request ids, and never a token or secret."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.integration.service_calls import issue_token, logout
from tests.live_server import SERVER_ENV, live_server


def serve_and_call(tmp_path: Path, log_file: Path) -> str:
    """Runs a token's whole life through a real server; returns the token."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'logs.sqlite3'}", "LOG_FORMAT": "json"}
    with (
        log_file.open("wb") as output,
        live_server(env, stderr=output) as server,
        httpx.Client(base_url=server.base_url, timeout=10) as client,
    ):
        token = issue_token(client, 77)
        assert logout(client, token).status_code == 200
        again = client.post(
            "/api/v2/logout",
            headers={"Authorization": f"Bearer {token}", "X-Request-Id": "live-7"},
        )
        assert again.status_code == 401
        assert again.headers["x-request-id"] == "live-7"
        wrong = {"user_id": 77, "app_id": SERVER_ENV["APP_ID"], "app_key": "wrong-key"}
        assert client.post("/api/v2/lgt-all", json=wrong).status_code == 401
    return token


class TestServeLogs:
    def test_every_line_is_json_with_the_request_id_and_no_secret(self, tmp_path: Path) -> None:
        log_file = tmp_path / "server.log"
        token = serve_and_call(tmp_path, log_file)
        text = log_file.read_text()
        entries = [json.loads(line) for line in text.splitlines() if line.strip()]
        assert entries, "the server logged nothing"
        required = {"timestamp", "level", "logger", "message", "request_id"}
        assert all(required <= set(entry) for entry in entries)
        servers = {"_granian", "uvicorn.error"}  # the server's own start-up lines: JSON too
        assert any(entry["logger"] in servers for entry in entries)
        # Refusals are summarised per interval; the server's shutdown writes the last summary.
        [summary] = [e for e in entries if e.get("event") == "token_rejections"]
        assert (summary["example_request_id"], summary["reason"]) == ("live-7", "revoked")
        assert summary["count"] == 1
        assert any(e.get("event") == "security.internal_auth_failed" for e in entries)
        for secret in (token, token.rsplit(".", 1)[1], SERVER_ENV["APP_KEY"], "wrong-key"):
            assert secret not in text
        assert SERVER_ENV["JWT_SECRET"] not in text
