"""One contract for every TokenLog: the in-memory fake, Piccolo on PostgreSQL, Piccolo on SQLite."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from revocation.adapters.memory import InMemoryTokenLog
from revocation.adapters.piccolo.engines import build_engine, start_engine
from revocation.adapters.piccolo.migrate import committed_migrations, migrate
from revocation.adapters.piccolo.tables import UserTokenLog
from revocation.adapters.piccolo.token_log import PiccoloTokenLog
from revocation.domain.errors import TokenLogUnavailable
from revocation.domain.model import TokenRecord, Watermark
from revocation.domain.ports import TokenLog
from tests.integration.token_logs import (
    HOUR,
    MICROSECOND,
    NOW,
    a_record,
    fetch_column,
    fresh_postgres_database,
    migrate_once,
    piccolo_token_log,
    silent_server,
)
from tests.random_refs import random_key, random_user_id
from tests.revocations import LOGOUT, LOGOUT_ALL


@pytest.fixture(scope="session")
def migrated_postgres_url(postgres_url: str) -> str:
    migrate_once(postgres_url)
    return postgres_url


@pytest.fixture(scope="session")
def migrated_sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('token_log') / 'revocation.sqlite3'}"
    migrate_once(url)
    return url


@pytest.fixture(
    params=["memory", pytest.param("postgres", marks=pytest.mark.postgres), "sqlite"],
)
async def token_log(request: pytest.FixtureRequest) -> AsyncIterator[TokenLog]:
    if request.param == "memory":
        yield InMemoryTokenLog()
        return
    async with piccolo_token_log(request.getfixturevalue(f"migrated_{request.param}_url")) as log:
        yield log


APPLIED = "SELECT name FROM migration WHERE app_name = 'token_log' ORDER BY name"


def without_row_id(record: TokenRecord | None) -> TokenRecord | None:
    return record and dataclasses.replace(record, row_id=None)


class TestRecordAndLookup:
    async def test_round_trips_a_record_to_the_microsecond(self, token_log: TokenLog) -> None:
        record = a_record(issued_at=NOW - 1 + 123_457 * MICROSECOND, device="Firefox on Linux")
        await token_log.record(record)

        state = await token_log.lookup(record.key, record.user_id)

        assert without_row_id(state.record) == record
        assert state.record is not None
        assert isinstance(state.record.row_id, int)
        assert state.watermark is None

    async def test_finds_the_pairs_row_whichever_user_asks(self, token_log: TokenLog) -> None:
        record = a_record()
        await token_log.record(record)
        other_user = random_user_id()
        await token_log.raise_watermark(Watermark(other_user, NOW), LOGOUT_ALL)

        state = await token_log.lookup(record.key, other_user)

        assert without_row_id(state.record) == record  # the use case compares the user ids
        assert state.watermark == Watermark(other_user, NOW)  # the asking user's

    async def test_finds_nothing_for_an_unlogged_token(self, token_log: TokenLog) -> None:
        state = await token_log.lookup(random_key(), random_user_id())

        assert state.record is None
        assert state.watermark is None

    async def test_rejects_a_duplicate_key_even_for_another_user(self, token_log: TokenLog) -> None:
        record = a_record()
        await token_log.record(record)

        with pytest.raises(ValueError, match="logged already"):
            await token_log.record(a_record(key=record.key, issued_at=NOW))

        state = await token_log.lookup(record.key, record.user_id)
        assert without_row_id(state.record) == record


class TestBlock:
    async def test_blocks_a_logged_token(self, token_log: TokenLog) -> None:
        record = a_record()
        await token_log.record(record)

        await token_log.block(record, blocked_at=NOW, revocation=LOGOUT)

        state = await token_log.lookup(record.key, record.user_id)
        assert state.record is not None
        assert state.record.blocked_at == NOW

    async def test_inserts_a_blocked_row_for_an_unlogged_token(self, token_log: TokenLog) -> None:
        record = a_record(device="curl")

        await token_log.block(record, blocked_at=NOW, revocation=LOGOUT)

        state = await token_log.lookup(record.key, record.user_id)
        assert without_row_id(state.record) == dataclasses.replace(record, blocked_at=NOW)

    async def test_is_idempotent_and_never_unblocks(self, token_log: TokenLog) -> None:
        record = a_record()
        await token_log.record(record)
        await token_log.block(record, blocked_at=NOW, revocation=LOGOUT)

        await token_log.block(record, blocked_at=NOW + 5, revocation=LOGOUT)
        await token_log.revoke_all(Watermark(record.user_id, revoked_before=NOW + 10))

        state = await token_log.lookup(record.key, record.user_id)
        assert state.record is not None
        assert state.record.blocked_at == NOW

    async def test_blocks_the_pair_in_another_users_row(self, token_log: TokenLog) -> None:
        # A jti reused across users is the issuer's bug: the pair is what a block refuses.
        owners = a_record()
        await token_log.record(owners)

        await token_log.block(a_record(key=owners.key), blocked_at=NOW, revocation=LOGOUT)

        state = await token_log.lookup(owners.key, owners.user_id)
        assert without_row_id(state.record) == dataclasses.replace(owners, blocked_at=NOW)

    @pytest.mark.parametrize("logged", [True, False])
    async def test_two_concurrent_blocks_both_succeed(
        self, token_log: TokenLog, *, logged: bool
    ) -> None:
        # Ten tokens at once, so the two blocks of a token really overlap on pooled connections.
        records = [a_record() for _ in range(10)]
        if logged:
            await asyncio.gather(*(token_log.record(record) for record in records))

        await asyncio.gather(
            *(
                token_log.block(record, blocked_at=NOW + n, revocation=LOGOUT)
                for record in records
                for n in (0, 1)
            )
        )

        for record in records:
            state = await token_log.lookup(record.key, record.user_id)
            assert state.record is not None
            assert state.record.blocked_at in {NOW, NOW + 1}


class TestRevokeAll:
    async def test_blocks_only_that_users_tokens_issued_at_or_before(
        self, token_log: TokenLog
    ) -> None:
        user_id = random_user_id()
        older, at_watermark, newer = (
            a_record(user_id, issued_at=NOW - HOUR),
            a_record(user_id, issued_at=NOW),
            a_record(user_id, issued_at=NOW + MICROSECOND),
        )
        already_blocked, someone_elses = a_record(user_id), a_record(issued_at=NOW - HOUR)
        for record in (older, at_watermark, newer, already_blocked, someone_elses):
            await token_log.record(record)
        await token_log.block(already_blocked, blocked_at=NOW - 30, revocation=LOGOUT)

        blocked = await token_log.revoke_all(Watermark(user_id, revoked_before=NOW))

        assert blocked == 2
        for record, blocked_at in (
            (older, NOW),
            (at_watermark, NOW),
            (newer, None),
            (already_blocked, NOW - 30),
            (someone_elses, None),
        ):
            state = await token_log.lookup(record.key, record.user_id)
            assert state.record is not None
            assert state.record.blocked_at == blocked_at

    async def test_sets_the_watermark_that_lookup_returns(self, token_log: TokenLog) -> None:
        user_id = random_user_id()

        assert await token_log.revoke_all(Watermark(user_id, revoked_before=NOW)) == 0

        state = await token_log.lookup(random_key(), user_id)
        assert state.watermark == Watermark(user_id, revoked_before=NOW)

    async def test_keeps_the_later_watermark(self, token_log: TokenLog) -> None:
        user_id = random_user_id()
        await token_log.revoke_all(Watermark(user_id, revoked_before=NOW))

        await token_log.revoke_all(Watermark(user_id, revoked_before=NOW - HOUR))

        state = await token_log.lookup(random_key(), user_id)
        assert state.watermark == Watermark(user_id, revoked_before=NOW)


class TestRaiseWatermark:
    async def test_keeps_the_later_watermark_and_blocks_no_row(self, token_log: TokenLog) -> None:
        user_id = random_user_id()
        record = a_record(user_id, issued_at=NOW - HOUR)
        await token_log.record(record)

        await token_log.raise_watermark(Watermark(user_id, revoked_before=NOW), LOGOUT_ALL)
        await token_log.raise_watermark(Watermark(user_id, revoked_before=NOW - HOUR), LOGOUT_ALL)

        state = await token_log.lookup(record.key, user_id)
        assert state.watermark == Watermark(user_id, revoked_before=NOW)
        assert state.record is not None
        assert not state.record.is_blocked


class TestActiveSessions:
    async def test_lists_unblocked_unexpired_unrevoked_tokens_newest_first(
        self, token_log: TokenLog
    ) -> None:
        user_id = random_user_id()
        await token_log.revoke_all(Watermark(user_id, revoked_before=NOW - HOUR))
        newest, oldest = a_record(user_id, issued_at=NOW - 1), a_record(user_id, issued_at=NOW - 50)
        blocked, expired = a_record(user_id), a_record(user_id, expires_at=NOW)
        logged_late_but_revoked = a_record(user_id, issued_at=NOW - HOUR)
        for record in (oldest, newest, blocked, expired, logged_late_but_revoked, a_record()):
            await token_log.record(record)
        await token_log.block(blocked, blocked_at=NOW - 10, revocation=LOGOUT)

        sessions = await token_log.active_sessions(user_id, now=NOW)

        assert [without_row_id(session) for session in sessions] == [newest, oldest]


class TestPurgeExpired:
    # Purging is table-wide and the Postgres database is shared: expire rows in a private window
    # far in the past, after clearing anything a crashed earlier run left below it.
    async def test_deletes_expired_rows_in_batches_until_none_are_left(
        self, token_log: TokenLog
    ) -> None:
        window = float(random_user_id() % 10**8)  # somewhere in 1970-1973
        while await token_log.purge_expired(before=window, batch_size=1000):
            pass
        expired = [a_record(issued_at=window, expires_at=window + n) for n in range(5)]
        kept = a_record(issued_at=window, expires_at=window + 5)
        for record in (*expired, kept):
            await token_log.record(record)

        counts = [await token_log.purge_expired(before=window + 5, batch_size=2) for _ in range(4)]

        assert counts == [2, 2, 1, 0]
        for record in expired:
            assert (await token_log.lookup(record.key, record.user_id)).record is None
        assert (await token_log.lookup(kept.key, kept.user_id)).record is not None


class TestRepairPages:
    # The tables are shared: each test walks a private window of instants far in the future.
    @staticmethod
    def a_window() -> float:
        return 3e9 + random_user_id() % 10**8

    async def test_pages_blocked_tokens_by_expiry_then_row_id(self, token_log: TokenLog) -> None:
        window = self.a_window()
        first, second, third = (a_record(expires_at=window + n) for n in (1, 1, 3))
        unblocked, expired = a_record(expires_at=window + 2), a_record(expires_at=window - 1)
        for record in (first, second, third, unblocked, expired):
            await token_log.record(record)
        for record in (third, second, first, expired):
            await token_log.block(record, blocked_at=NOW, revocation=LOGOUT)

        pages = []
        cursor = (window, 0)
        while page := await token_log.blocked_after(*cursor, limit=2):
            pages.append([r.key for r in page if r.expires_at < window + 10])
            cursor = (page[-1].expires_at, page[-1].row_id or 0)
            if page[-1].expires_at >= window + 10:
                break

        assert pages[:2] == [[first.key, second.key], [third.key]]
        assert not any(pages[2:])

    async def test_pages_watermarks_by_time_then_user(self, token_log: TokenLog) -> None:
        window = self.a_window()
        low, high = sorted(random_user_id() for _ in range(2))
        later, earlier = random_user_id(), random_user_id()
        for user_id, at in ((high, 1.0), (low, 1.0), (later, 2.5), (earlier, -1.0)):
            await token_log.revoke_all(Watermark(user_id, revoked_before=window + at))

        page = await token_log.watermarks_after(window, 0, limit=2)
        rest = await token_log.watermarks_after(page[-1].revoked_before, page[-1].user_id, 1)

        assert page == [Watermark(low, window + 1.0), Watermark(high, window + 1.0)]
        assert rest == [Watermark(later, window + 2.5)]


@pytest.mark.postgres
class TestPostgresSchema:
    """Through a side door: what the migrations built, read with raw SQL."""

    async def test_has_the_indexes_the_hot_path_needs(self, migrated_postgres_url: str) -> None:
        definitions = await fetch_column(
            migrated_postgres_url,
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'user_token_logs'",
        )
        shapes = {(d.startswith("CREATE UNIQUE"), d.split(" USING ")[1]) for d in definitions}

        assert (True, "btree (iss, jti)") in shapes
        assert (False, "btree (user_id, issued_at) WHERE (blocked_at IS NULL)") in shapes
        assert (False, "btree (expires_at)") in shapes

    async def test_never_stores_the_raw_token(self, migrated_postgres_url: str) -> None:
        columns = await fetch_column(
            migrated_postgres_url,
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = 'user_token_logs'",
        )

        assert set(columns) == {
            column._meta.db_column_name for column in UserTokenLog._meta.columns
        }
        assert not {"token", "raw_token", "access_token"} & set(columns)


class TestMigrate:
    async def test_sqlite_migrations_are_idempotent_and_serialised(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        engine = build_engine(url)

        await asyncio.gather(migrate(engine), migrate(engine))
        await migrate(engine)

        with contextlib.closing(sqlite3.connect(tmp_path / "fresh.sqlite3")) as connection:
            applied = [row[0] for row in connection.execute(APPLIED)]
        assert applied == [migration.ID for migration in committed_migrations()]

    @pytest.mark.postgres
    async def test_postgres_migrations_are_idempotent_and_serialised(
        self, postgres_url: str
    ) -> None:
        async with fresh_postgres_database(postgres_url) as url:
            engine = build_engine(url)

            await asyncio.gather(migrate(engine), migrate(engine))
            await migrate(engine)

            applied = await fetch_column(url, APPLIED)
        assert applied == [migration.ID for migration in committed_migrations()]


class TestEngines:
    @pytest.mark.postgres
    async def test_two_databases_in_one_process_stay_apart(
        self, migrated_postgres_url: str, migrated_sqlite_url: str
    ) -> None:
        record = a_record()
        async with (
            piccolo_token_log(migrated_postgres_url) as postgres,
            piccolo_token_log(migrated_sqlite_url) as sqlite,
        ):
            await asyncio.gather(postgres.record(record), sqlite.record(record))
            await postgres.block(record, blocked_at=NOW, revocation=LOGOUT)

            in_postgres, in_sqlite = await asyncio.gather(
                postgres.lookup(record.key, record.user_id),
                sqlite.lookup(record.key, record.user_id),
            )

        assert in_postgres.record is not None
        assert in_postgres.record.is_blocked
        assert without_row_id(in_sqlite.record) == record

    async def test_the_piccolo_table_matches_the_migrated_schema(
        self, migrated_sqlite_url: str
    ) -> None:
        record = a_record(device="Safari")
        async with piccolo_token_log(migrated_sqlite_url) as log:
            await log.record(record)
            engine = build_engine(migrated_sqlite_url)

            class Bound(UserTokenLog, tablename="user_token_logs", db=engine):
                pass

            row = await Bound.select().where(Bound.jti == record.key.jti).first()

        assert row is not None
        assert set(row) == {column._meta.name for column in UserTokenLog._meta.columns}
        assert (row["iss"], row["user_id"], row["device"]) == (
            "test-issuer",
            record.user_id,
            "Safari",
        )
        assert row["issued_at"].timestamp() == record.issued_at

    def test_refuses_an_in_memory_sqlite_database(self) -> None:
        with pytest.raises(ValueError, match="database file"):
            build_engine("sqlite:///:memory:")

    def test_refuses_an_unknown_scheme(self) -> None:
        with pytest.raises(ValueError, match="mysql"):
            build_engine("mysql://localhost/db")


class TestUnavailableDatabase:
    async def test_a_refused_postgres_fails_fast(self) -> None:
        engine = build_engine("postgresql://postgres@127.0.0.1:1/x", connect_timeout=1.0)
        started = time.monotonic()

        with pytest.raises(TokenLogUnavailable):
            await start_engine(engine)
        with pytest.raises(TokenLogUnavailable):
            await PiccoloTokenLog(engine).lookup(random_key(), random_user_id())

        assert time.monotonic() - started < 3

    async def test_a_postgres_that_never_answers_fails_within_the_timeout(self) -> None:
        async with silent_server() as port:
            engine = build_engine(f"postgresql://postgres@127.0.0.1:{port}/x", connect_timeout=1.0)
            started = time.monotonic()

            with pytest.raises(TokenLogUnavailable):
                await PiccoloTokenLog(engine).lookup(random_key(), random_user_id())

            assert time.monotonic() - started < 3

    async def test_the_operation_timeout_caps_a_hung_database(self) -> None:
        async with silent_server() as port:
            engine = build_engine(f"postgresql://postgres@127.0.0.1:{port}/x", connect_timeout=60)
            started = time.monotonic()

            with pytest.raises(TokenLogUnavailable):
                await PiccoloTokenLog(engine, timeout=0.5).revoke_all(Watermark(1, NOW))

            assert time.monotonic() - started < 2

    async def test_a_sqlite_error_is_unavailable(self, tmp_path: Path) -> None:
        # An unmigrated file: "no such table". (A file SQLite cannot open would do too, but
        # aiosqlite then finishes its worker thread after the test's loop has closed.)
        log = PiccoloTokenLog(build_engine(f"sqlite:///{tmp_path / 'unmigrated.sqlite3'}"))

        with pytest.raises(TokenLogUnavailable):
            await log.lookup(random_key(), random_user_id())
