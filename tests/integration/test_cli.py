"""The `revocation` command as a user runs it: migrate, issue-token, purge-expired,
purge-audit, errors."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from revocation.adapters.jwt_codec import PyJWTCodec
from revocation.adapters.piccolo.audit_trail import PiccoloAuditTrail
from revocation.adapters.piccolo.engines import build_engine
from revocation.adapters.piccolo.token_log import PiccoloTokenLog
from revocation.domain.model import Watermark
from tests.live_server import REPO, SERVER_ENV
from tests.revocations import LOGOUT_ALL

CLI = [sys.executable, "-m", "revocation.entrypoints.cli"]


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        env={**os.environ, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(params=["sqlite", "postgres"])
def database_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url")
    return {**SERVER_ENV, "DATABASE_URL": url}


class TestCli:
    def test_production_without_secrets_stops_with_a_clear_message(self) -> None:
        env = {name: "" for name in ("JWT_SECRET", "APP_ID", "APP_KEY", "REVOCATION_ENV")}
        result = run_cli("issue-token", "--user-id", "1", env=env)
        assert result.returncode == 2
        assert "configuration error: JWT_SECRET is required" in result.stderr

    def test_migrate_is_idempotent_and_issue_token_prints_a_verifiable_token(
        self, database_env: dict[str, str]
    ) -> None:
        for _ in range(2):
            migrated = run_cli("migrate", env=database_env)
            assert migrated.returncode == 0, migrated.stderr
        issued = run_cli("issue-token", "--user-id", "4242", "--device", "cli", env=database_env)
        assert issued.returncode == 0, issued.stderr
        token = issued.stdout.strip()
        codec = PyJWTCodec(
            algorithms=("HS256",),
            verification_key=SERVER_ENV["JWT_SECRET"],
            issuer=SERVER_ENV["JWT_ISSUER"],
        )
        assert codec.verify(token).user_id == 4242
        assert token not in issued.stderr  # printed once, for the caller, never logged

    @pytest.mark.parametrize("user_id", ["0", "-5", "abc", str(2**63)])
    def test_issue_token_refuses_a_bad_user_id(self, user_id: str, tmp_path: Path) -> None:
        env = {**SERVER_ENV, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"}
        result = run_cli("issue-token", "--user-id", user_id, env=env)
        assert result.returncode == 2
        assert "--user-id" in result.stderr

    def test_purge_expired_command_runs_on_each_database(
        self, database_env: dict[str, str]
    ) -> None:
        assert run_cli("migrate", env=database_env).returncode == 0
        result = run_cli("purge-expired", "--batch-size", "10", env=database_env)
        assert result.returncode == 0, result.stderr
        assert "purged" in result.stdout

    def test_purge_audit_deletes_records_older_than_the_retention(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
        env = {**SERVER_ENV, "DATABASE_URL": url, "AUDIT_RETENTION_DAYS": "1"}
        assert run_cli("migrate", env=env).returncode == 0
        now = time.time()
        asyncio.run(audit(url, now - 2 * 86_400, now - 60))

        result = run_cli("purge-audit", "--batch-size", "1", env=env)

        assert result.returncode == 0, result.stderr
        assert "purged 1 audit records" in result.stdout
        assert asyncio.run(audit_times(url)) == [pytest.approx(now - 60)]


async def audit(database_url: str, *times: float) -> None:
    """Records of logouts-all at those times, as the service writes them."""
    token_log = PiccoloTokenLog(build_engine(database_url))
    for at in times:
        await token_log.raise_watermark(Watermark(77, at), LOGOUT_ALL)


async def audit_times(database_url: str) -> list[float]:
    trail = PiccoloAuditTrail(build_engine(database_url))
    return [record.revoked_at for record in await trail.history(77, before_id=None, limit=10)]
