"""The contract suites shipped in revocation.testing, run here against our own adapters (so
they hold for what we ship), and the worked example a team would copy, run as they would."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from revocation.adapters.clock import ManualClock
from revocation.adapters.memory import InMemoryBlacklist, InMemoryTokenLog
from revocation.adapters.piccolo.engines import build_engine, start_engine, stop_engine
from revocation.adapters.piccolo.token_log import PiccoloTokenLog
from revocation.adapters.redis.blacklist import RedisBlacklist
from revocation.adapters.redis.client import RedisFailures, build_redis_client
from revocation.domain.ports import Blacklist, TokenLog
from revocation.testing.blacklist_contract import BlacklistContract
from revocation.testing.token_log_contract import TokenLogContract
from tests.integration.servers import redis_options
from tests.integration.token_logs import migrate_once
from tests.live_server import REPO


class TestInMemoryBlacklist(BlacklistContract):
    @pytest.fixture
    def blacklist(self) -> Blacklist:
        return InMemoryBlacklist(ManualClock())


@pytest.mark.redis
class TestRedisBlacklist(BlacklistContract):
    @pytest.fixture
    async def blacklist(self, redis_url: str) -> AsyncIterator[Blacklist]:
        client: Redis = build_redis_client(redis_url, redis_options(2))
        yield RedisBlacklist(client, RedisFailures())
        await client.aclose()


class TestInMemoryTokenLog(TokenLogContract):
    @pytest.fixture
    def token_log(self) -> TokenLog:
        return InMemoryTokenLog()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'contract.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url")
    migrate_once(url)
    return url


class TestPiccoloTokenLog(TokenLogContract):
    @pytest.fixture
    async def token_log(self, database_url: str) -> AsyncIterator[TokenLog]:
        engine = build_engine(database_url)
        await start_engine(engine)
        yield PiccoloTokenLog(engine)
        await stop_engine(engine)


def run_pytest(where: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=where, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_worked_example_passes_with_the_plugin_loaded_by_pytest_alone() -> None:
    result = run_pytest(REPO, "examples/own_adapter")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "9 passed" in result.stdout


def test_the_contract_catches_a_broken_adapter(tmp_path: Path) -> None:
    # Outside this repository: no conftest, no settings, pytest-asyncio in its default mode.
    (tmp_path / "test_broken.py").write_text(
        textwrap.dedent(
            """
            import pytest
            from examples.own_adapter.dict_blacklist import DictBlacklist
            from revocation.testing.blacklist_contract import BlacklistContract

            class LoweringBlacklist(DictBlacklist):
                async def raise_watermark(self, watermark, ttl_seconds):
                    self._watermarks[watermark.user_id] = (watermark, 1e12)  # lowers it too

            class TestLowering(BlacklistContract):
                @pytest.fixture
                def blacklist(self):
                    return LoweringBlacklist()
            """
        )
    )
    result = run_pytest(tmp_path, f"--rootdir={tmp_path}", "-o", f"pythonpath={REPO}")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 failed, 6 passed" in result.stdout
    assert "test_a_watermark_only_rises" in result.stdout
