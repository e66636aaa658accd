"""The `revocation` command as a newcomer first runs it: from a shell, outside `make`, from any
directory. Each test is a trip-up that once ended in a refusal without a way out or a traceback."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pty
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from revocation.adapters.piccolo.engines import build_engine
from revocation.adapters.piccolo.token_log import PiccoloTokenLog
from revocation.domain.model import TokenRecord
from revocation.entrypoints.cli_parser import build_parser
from tests.live_server import free_port
from tests.random_refs import random_key

CLI = [sys.executable, "-m", "revocation.entrypoints.cli"]
# What a shell has: none of the service's settings (a developer's own may be exported).
SETTINGS_PREFIXES = ("JWT_", "APP_", "DATABASE_", "REDIS_", "LOG_", "REVOCATION_", "HOST", "PORT")
SHELL = {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS_PREFIXES)}


def run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env={**SHELL, **env}, cwd=cwd, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip


def assert_one_line_error(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("revocation:")]
    for text in expected:
        assert text in line
    return line


class TestOutsideMake:
    def test_issue_token_without_secrets_names_the_dev_flag(self, tmp_path: Path) -> None:
        line = assert_one_line_error(run(tmp_path, "issue-token", "--user-id", "12345"))
        assert "JWT_SECRET is required" in line
        assert "--dev" in line

    def test_dev_flag_issues_a_token_from_a_shell(self, tmp_path: Path) -> None:
        assert run(tmp_path, "migrate").returncode == 0
        issued = run(tmp_path, "issue-token", "--dev", "--user-id", "12345")
        assert issued.returncode == 0, issued.stderr
        assert issued.stdout.count(".") == 2  # a JWT, alone on stdout
        assert str(tmp_path / "revocation.sqlite3") in issued.stderr  # where it was logged

    def test_dev_flag_refuses_a_server_database(self, tmp_path: Path) -> None:
        result = run(tmp_path, "serve", "--dev", DATABASE_URL="postgresql://u@127.0.0.1/x")
        assert_one_line_error(result, "--dev takes a SQLite DATABASE_URL and a loopback HOST")

    def test_dev_flag_refuses_a_public_address(self, tmp_path: Path) -> None:
        result = run(tmp_path, "serve", "--dev", "--host", "0.0.0.0")  # noqa: S104
        assert_one_line_error(result, "loopback HOST")


class TestServeRefusesWhatItsAdaptersRefuse:
    @pytest.mark.parametrize(
        ("setting", "value", "expected"),
        [
            ("REDIS_URL", "http://cache:6379", "Redis URL must specify one of"),
            ("JWT_PUBLIC_KEY", "not a PEM key", "not a usable RS256 key"),
        ],
    )
    def test_in_one_line_before_any_worker_starts(
        self, tmp_path: Path, setting: str, value: str, expected: str
    ) -> None:
        assert run(tmp_path, "migrate").returncode == 0
        env = {"JWT_ALGORITHMS": "RS256"} if setting == "JWT_PUBLIC_KEY" else {}
        result = run(
            tmp_path, "serve", "--dev", "--port", str(free_port()), **env, **{setting: value}
        )
        assert_one_line_error(result, "configuration error", expected)
        assert "granian" not in result.stderr  # refused before the server started

    def test_a_port_in_use_is_one_line(self, tmp_path: Path) -> None:
        assert run(tmp_path, "migrate").returncode == 0
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = str(taken.getsockname()[1])
            result = run(tmp_path, "serve", "--dev", "--port", port)
        assert_one_line_error(result, f"cannot listen on 127.0.0.1:{port}", "--port")


class TestAnotherDirectory:
    def test_a_missing_database_file_is_named_with_how_to_create_it(self, tmp_path: Path) -> None:
        result = run(tmp_path, "issue-token", "--dev", "--user-id", "12345")
        assert_one_line_error(result, f"no database at {tmp_path}/revocation.sqlite3", "migrate")
        assert not (tmp_path / "revocation.sqlite3").exists()  # nothing half-made left behind

    def test_an_unmigrated_database_says_to_migrate(self, tmp_path: Path) -> None:
        (tmp_path / "revocation.sqlite3").touch()  # e.g. made by another tool
        for command in (["issue-token", "--user-id", "1"], ["purge-expired"], ["serve"]):
            result = run(tmp_path, *command, "--dev")
            assert_one_line_error(result, "is not migrated", "run `revocation migrate`")


class TestMigrate:
    def test_needs_no_secret(self, tmp_path: Path) -> None:
        result = run(tmp_path, "migrate", REVOCATION_ENV="production")
        assert result.returncode == 0, result.stderr
        assert f"migrations applied to the SQLite file {tmp_path}" in result.stdout

    def test_honours_log_format_json(self, tmp_path: Path) -> None:
        result = run(tmp_path, "migrate", LOG_FORMAT="json", LOG_LEVEL="info")
        assert result.returncode == 0, result.stderr
        lines = result.stderr.splitlines()
        assert lines
        assert all(json.loads(line)["level"] for line in lines)

    def test_a_database_that_is_down_is_one_line(self, tmp_path: Path) -> None:
        down = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x"
        result = run(tmp_path, "migrate", DATABASE_URL=down, LOG_FORMAT="text")
        assert_one_line_error(result, "database unavailable", "ConnectionRefusedError")

    @pytest.mark.postgres
    def test_a_sqlalchemy_style_url_is_accepted(self, tmp_path: Path, postgres_url: str) -> None:
        copied = postgres_url.replace("postgresql://", "postgresql+asyncpg://", 1)
        result = run(tmp_path, "migrate", DATABASE_URL=copied)
        assert result.returncode == 0, result.stderr

    def test_an_unknown_scheme_lists_the_accepted_ones(self, tmp_path: Path) -> None:
        result = run(tmp_path, "migrate", DATABASE_URL="mysql://u@db/x")
        assert_one_line_error(result, "mysql:// is not a database URL", "postgresql+asyncpg://")

    def test_log_level_in_lower_case_is_accepted(self, tmp_path: Path) -> None:
        assert run(tmp_path, "migrate", LOG_LEVEL="info").returncode == 0


class TestPurgeExpired:
    def test_a_zero_batch_is_refused(self, tmp_path: Path) -> None:
        result = run(tmp_path, "purge-expired", "--batch-size", "0")
        assert result.returncode == 2
        assert "--batch-size: must be at least 1" in result.stderr

    def test_shows_progress_on_a_terminal(self, tmp_path: Path) -> None:
        assert run(tmp_path, "migrate").returncode == 0
        asyncio.run(expired_rows(f"sqlite:///{tmp_path / 'revocation.sqlite3'}", 30))
        terminal, program_side = pty.openpty()
        result = subprocess.run(
            [*CLI, "purge-expired", "--batch-size", "10"], env={**SHELL, "LOG_LEVEL": "error"},
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=program_side, text=True, timeout=60,
            check=False,
        )  # fmt: skip
        os.close(program_side)
        shown = os.read(terminal, 65536).decode()
        os.close(terminal)
        assert result.returncode == 0
        assert "purged 30 expired token log rows" in result.stdout
        assert "10 expired token log rows purged so far (" in shown
        assert "/s)" in shown


async def expired_rows(database_url: str, count: int) -> None:
    token_log = PiccoloTokenLog(build_engine(database_url))
    long_ago = time.time() - 86_400
    for _ in range(count):
        key = random_key()
        await token_log.record(TokenRecord(key, 7, long_ago - 60, long_ago))


class TestHelp:
    def test_every_option_is_described_with_its_default(self) -> None:
        parser = build_parser()
        [subcommands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        for name, command in subcommands.choices.items():
            for action in command._actions:
                assert action.help, f"{name} {action.option_strings} has no help"
                if action.default not in (None, False) and action.dest != "help":
                    shown = command.format_help()
                    assert f"(default: {action.default})" in shown, (name, action.dest)

    def test_version(self, tmp_path: Path) -> None:
        result = run(tmp_path, "--version")
        assert result.returncode == 0
        assert result.stdout.startswith("revocation 0.")
