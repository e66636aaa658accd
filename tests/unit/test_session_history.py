"""The history of ended sessions, a page at a time, and only ever the caller's own."""

from __future__ import annotations

import pytest

from revocation.domain.app_gate import InternalCall
from revocation.domain.audit import AuditRecord, Reason, Revocation, cursor_after, page_request
from revocation.domain.errors import InvalidAppCredentials, InvalidPage, MissingUserId
from revocation.domain.model import Claims
from tests.unit.harness import APP_ID, APP_KEY, Harness


async def ended_sessions(harness: Harness, user_id: int, count: int) -> list[Claims]:
    """`count` sessions of the user, each logged out in turn (oldest first)."""
    ended = []
    for n in range(count):
        issued = await harness.issue_token()(user_id=user_id, device=f"device {n}")
        claims = harness.codec.verify(issued.token)
        revocation = Revocation.by_user(Reason.LOGOUT, claims.key, None)
        await harness.logout()(claims=claims, revocation=revocation)
        harness.clock.advance(1)
        ended.append(claims)
    return ended


class TestSessionHistory:
    async def test_pages_newest_first_until_the_last_page_says_so(self) -> None:
        harness = Harness()
        ended = await ended_sessions(harness, 7, 5)
        history = harness.history()

        pages, cursor = [], None
        while True:
            page = await history(claims=ended[0], cursor=cursor, limit=2)
            pages.append([record.device for record in page.records])
            if page.next_cursor is None:
                break
            cursor = page.next_cursor

        assert pages == [["device 4", "device 3"], ["device 2", "device 1"], ["device 0"]]

    async def test_a_full_last_page_has_no_next_cursor(self) -> None:
        harness = Harness()
        ended = await ended_sessions(harness, 7, 2)

        page = await harness.history()(claims=ended[0], cursor=None, limit=2)

        assert (len(page.records), page.next_cursor) == (2, None)

    async def test_never_shows_another_users_records_even_with_their_cursor(self) -> None:
        harness = Harness()
        mine = await ended_sessions(harness, 7, 2)
        theirs = await ended_sessions(harness, 8, 3)
        their_page = await harness.history()(claims=theirs[0], cursor=None, limit=1)

        page = await harness.history()(claims=mine[0], cursor=their_page.next_cursor, limit=10)

        assert {record.user_id for record in page.records} == {7}

    @pytest.mark.parametrize(
        ("cursor", "limit"),
        [("AAAAAAAAAAE", 0), (None, 101), (None, "20"), (None, True), ("x", 10), (42, 10)],
    )
    async def test_refuses_a_page_it_never_gave(self, cursor: object, limit: object) -> None:
        harness = Harness()
        [claims] = await ended_sessions(harness, 7, 1)

        with pytest.raises(InvalidPage):
            await harness.history()(claims=claims, cursor=cursor, limit=limit)


class TestInternalSessionHistory:
    async def test_shows_any_users_history_to_the_trusted_service(self) -> None:
        harness = Harness()
        await ended_sessions(harness, 8, 2)
        call = InternalCall(user_id="8", app_id=APP_ID, app_key=APP_KEY, peer="10.0.0.1")

        page = await harness.internal_history()(call=call, cursor=None, limit=None)

        assert [record.device for record in page.records] == ["device 1", "device 0"]

    @pytest.mark.parametrize(
        ("user_id", "app_key", "error"),
        [(None, APP_KEY, MissingUserId), (8, "wrong", InvalidAppCredentials)],
    )
    async def test_admits_the_caller_before_reading_the_page(
        self, user_id: object, app_key: str, error: type[Exception]
    ) -> None:
        call = InternalCall(user_id=user_id, app_id=APP_ID, app_key=app_key, peer="10.0.0.1")

        with pytest.raises(error):
            await Harness().internal_history()(call=call, cursor="not a cursor", limit=0)


class TestCursors:
    @pytest.mark.parametrize("record_id", [1, 255, 2**40 + 3, 2**63 - 1])
    def test_a_cursor_gives_back_the_row_it_follows(self, record_id: int) -> None:
        cursor = cursor_after(a_record(record_id))

        assert page_request(cursor, 5) == (record_id, 5)

    @pytest.mark.parametrize(
        "cursor", ["g_________8", "AAAAAAAAAAB", "AAAAAAAAAA=", "AAAAAAAAAAAA", "AAAAAAAAAA"]
    )
    def test_refuses_a_cursor_out_of_the_row_ids_range_or_shape(self, cursor: str) -> None:
        with pytest.raises(InvalidPage):
            page_request(cursor, 5)

    def test_a_whole_number_written_as_a_decimal_is_a_limit(self) -> None:
        assert page_request(None, 36.0) == (None, 36)  # JSON Schema calls 36.0 an integer

    @pytest.mark.parametrize("limit", [36.5, True, "36", 0.0, 101.0])
    def test_refuses_a_limit_that_is_not_a_whole_number_in_range(self, limit: object) -> None:
        with pytest.raises(InvalidPage):
            page_request(None, limit)

    def test_every_cursor_of_the_documented_shape_is_a_row_id(self) -> None:
        lowest, highest = page_request("AAAAAAAAAAA", 1), page_request("f_________8", 1)

        assert (lowest, highest) == ((0, 1), (2**63 - 1, 1))


def a_record(record_id: int) -> AuditRecord:
    return AuditRecord(
        record_id=record_id,
        user_id=1,
        revoked_at=0.0,
        session_id=None,
        device=None,
        reason="logout",
        actor_kind="user",
        actor_name=None,
        actor_session_id=None,
        actor_device=None,
        peer=None,
        note=None,
        note_dropped=False,
    )
