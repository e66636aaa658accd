"""One contract for every audit trail, written through its token log's revocations: the
in-memory one, Piccolo on PostgreSQL, Piccolo on SQLite."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator

import pytest

from revocation.adapters.memory import InMemoryTokenLog
from revocation.adapters.piccolo.audit_trail import PiccoloAuditTrail
from revocation.adapters.piccolo.engines import build_engine, start_engine, stop_engine
from revocation.adapters.piccolo.tables import RevocationAudit
from revocation.adapters.piccolo.token_log import PiccoloTokenLog
from revocation.domain.audit import Actor, AuditRecord, Reason, Revocation
from revocation.domain.model import MAX_USER_ID, TokenKey, Watermark
from revocation.domain.ports import AuditTrail, TokenLog
from tests.integration.token_logs import NOW, a_record, fetch_column, migrate_once
from tests.random_refs import random_key, random_user_id


@dataclasses.dataclass
class Logs:
    token_log: TokenLog
    trail: AuditTrail

    async def history(self, user_id: int, limit: int = 100) -> list[AuditRecord]:
        return await self.trail.history(user_id, before_id=None, limit=limit)


@pytest.fixture(scope="session")
def migrated_postgres_url(postgres_url: str) -> str:
    migrate_once(postgres_url)
    return postgres_url


@pytest.fixture(scope="session")
def migrated_sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('audit') / 'revocation.sqlite3'}"
    migrate_once(url)
    return url


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.postgres), "sqlite"])
async def logs(request: pytest.FixtureRequest) -> AsyncIterator[Logs]:
    if request.param == "memory":
        token_log = InMemoryTokenLog()
        yield Logs(token_log, token_log.audit_trail)
        return
    async with piccolo_logs(request.getfixturevalue(f"migrated_{request.param}_url")) as both:
        yield both


@contextlib.asynccontextmanager
async def piccolo_logs(database_url: str) -> AsyncIterator[Logs]:
    engine = build_engine(database_url)
    await start_engine(engine)
    try:
        yield Logs(PiccoloTokenLog(engine), PiccoloAuditTrail(engine))
    finally:
        await stop_engine(engine)


def by_user(reason: Reason, acting_from: TokenKey | None = None) -> Revocation:
    return Revocation.by_user(reason, acting_from or random_key(), "203.0.113.7")


class TestRecordedWithTheBlock:
    async def test_records_the_session_its_device_and_the_actors(self, logs: Logs) -> None:
        user = random_user_id()
        phone, laptop = a_record(user, device="phone"), a_record(user, device="laptop")
        for token in (phone, laptop):
            await logs.token_log.record(token)

        revocation = by_user(Reason.SESSION_REVOKED, laptop.key)
        assert await logs.token_log.block(phone, blocked_at=NOW, revocation=revocation)

        [record] = await logs.history(user)
        assert (record.user_id, record.revoked_at, record.reason) == (user, NOW, "session_revoked")
        assert (record.session_id, record.device) == (phone.key.session_id, "phone")
        assert (record.actor_kind, record.actor_name) == ("user", None)
        assert (record.actor_session_id, record.actor_device) == (laptop.key.session_id, "laptop")
        assert (record.peer, record.note, record.note_dropped) == ("203.0.113.7", None, False)

    async def test_records_the_block_of_a_token_never_logged(self, logs: Logs) -> None:
        unlogged = a_record()

        assert await logs.token_log.block(
            unlogged, blocked_at=NOW, revocation=by_user(Reason.LOGOUT)
        )

        [record] = await logs.history(unlogged.user_id)
        assert (record.session_id, record.device, record.actor_device) == (
            unlogged.key.session_id,
            None,
            None,
        )

    async def test_a_token_blocked_already_records_nothing_more(self, logs: Logs) -> None:
        token = a_record()
        await logs.token_log.record(token)
        first = by_user(Reason.LOGOUT, token.key)

        await logs.token_log.block(token, blocked_at=NOW, revocation=first)
        again = await logs.token_log.block(token, blocked_at=NOW + 1, revocation=first)

        assert again is False
        assert [r.revoked_at for r in await logs.history(token.user_id)] == [NOW]

    async def test_racing_blocks_of_one_token_record_it_once(self, logs: Logs) -> None:
        tokens = [a_record() for _ in range(5)]
        for token in tokens:
            await logs.token_log.record(token)

        won = await asyncio.gather(
            *(
                logs.token_log.block(token, blocked_at=NOW + n, revocation=by_user(Reason.LOGOUT))
                for token in tokens
                for n in range(3)
            )
        )

        assert won.count(True) == len(tokens)
        for token in tokens:
            assert len(await logs.history(token.user_id)) == 1

    async def test_a_watermark_records_every_session_and_the_services_note(
        self, logs: Logs
    ) -> None:
        user = random_user_id()
        revocation = Revocation.by_service("laravel-app", "10.0.0.9", "password changed")

        await logs.token_log.raise_watermark(Watermark(user, NOW), revocation)
        await logs.token_log.raise_watermark(
            Watermark(user, NOW - 10), Revocation.by_service("laravel-app", None, 42)
        )

        older, newer = await logs.history(user)
        assert (older.reason, older.session_id, older.device) == ("service_logout_all", None, None)
        assert (older.actor_kind, older.actor_name, older.actor_session_id) == (
            "service",
            "laravel-app",
            None,
        )
        assert (older.note, older.note_dropped, older.revoked_at) == (None, True, NOW - 10)
        assert (newer.note, newer.note_dropped, newer.peer) == (
            "password changed",
            False,
            "10.0.0.9",
        )

    async def test_the_replay_policy_names_the_replayed_session(self, logs: Logs) -> None:
        stolen = a_record(device="stolen laptop")
        await logs.token_log.record(stolen)
        revocation = Revocation(
            Reason.REPLAY_DETECTED, Actor.replay_policy(stolen.key), "198.51.100.4"
        )

        await logs.token_log.raise_watermark(Watermark(stolen.user_id, NOW), revocation)

        [record] = await logs.history(stolen.user_id)
        assert (record.actor_kind, record.actor_name) == ("policy", "replay")
        assert (record.actor_session_id, record.actor_device) == (
            stolen.key.session_id,
            "stolen laptop",
        )

    async def test_keeps_the_longest_values_the_domain_lets_through(self, logs: Logs) -> None:
        user = random_user_id()
        revocation = Revocation(
            Reason.OAUTH_REVOCATION,
            Actor.oauth_client("c" * 400),
            "f" * 200,
            "é" * 300,  # bounded by the value itself: the write can't fail on it
        )

        await logs.token_log.raise_watermark(Watermark(user, NOW), revocation)

        [record] = await logs.history(user)
        assert (record.actor_name, record.peer, record.note) == ("c" * 255, "f" * 64, "é" * 200)


class TestHistoryPages:
    async def test_pages_the_users_records_newest_first_by_id(self, logs: Logs) -> None:
        user = random_user_id()
        for n in range(5):
            await logs.token_log.raise_watermark(
                Watermark(user, NOW + n), by_user(Reason.LOGOUT_ALL)
            )
            await logs.token_log.raise_watermark(
                Watermark(random_user_id(), NOW), by_user(Reason.LOGOUT_ALL)
            )

        first = await logs.trail.history(user, before_id=None, limit=2)
        second = await logs.trail.history(user, before_id=first[-1].record_id, limit=2)
        last = await logs.trail.history(user, before_id=second[-1].record_id, limit=2)

        pages = [[r.revoked_at - NOW for r in page] for page in (first, second, last)]
        assert pages == [[4, 3], [2, 1], [0]]
        assert {r.user_id for r in first + second + last} == {user}

    async def test_a_user_without_records_has_an_empty_history(self, logs: Logs) -> None:
        assert await logs.trail.history(random_user_id(), before_id=MAX_USER_ID, limit=10) == []


class TestPurge:
    # The table is shared: records in a private window far in the past, cleared first.
    async def test_deletes_old_records_in_batches_and_keeps_the_rest(self, logs: Logs) -> None:
        window = float(random_user_id() % 10**8)  # somewhere in 1970-1973
        while await logs.trail.purge_before(window, batch_size=1000):
            pass
        user = random_user_id()
        for n in range(6):
            await logs.token_log.raise_watermark(
                Watermark(user, window + n), by_user(Reason.LOGOUT_ALL)
            )

        counts = [await logs.trail.purge_before(window + 5, batch_size=2) for _ in range(4)]

        assert counts == [2, 2, 1, 0]
        assert [r.revoked_at - window for r in await logs.history(user)] == [5]


@pytest.mark.postgres
class TestPostgresSchema:
    async def test_the_table_matches_the_piccolo_class_and_holds_no_token(
        self, migrated_postgres_url: str
    ) -> None:
        columns = await fetch_column(
            migrated_postgres_url,
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = 'revocation_audit'",
        )

        assert set(columns) == {c._meta.db_column_name for c in RevocationAudit._meta.columns}
        assert not {"token", "jti", "iss", "raw_token"} & set(columns)

    async def test_has_the_indexes_its_pages_and_purge_walk(
        self, migrated_postgres_url: str
    ) -> None:
        definitions = await fetch_column(
            migrated_postgres_url,
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'revocation_audit'",
        )
        shapes = {d.split(" USING ")[1] for d in definitions}

        assert {"btree (user_id, id)", "btree (revoked_at)"} <= shapes
