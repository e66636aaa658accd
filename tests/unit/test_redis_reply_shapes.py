"""A Redis reply of the wrong shape (a connection out of step after a fault) is no answer."""

from __future__ import annotations

import pytest

from revocation.adapters.redis.blacklist import RedisBlacklist
from revocation.adapters.redis.client import RedisFailures
from revocation.domain.errors import BlacklistUnavailable
from revocation.domain.model import TokenKey


class OutOfStepClient:
    """Answers MGET with whatever reply was next on a desynchronised connection."""

    def __init__(self, reply: object) -> None:
        self.reply = reply

    async def mget(self, keys: list[bytes]) -> object:
        return self.reply


@pytest.mark.parametrize("reply", [b"OK", 1, [b"1"], [b"1", None, None, None], [[b"x"], None]])
async def test_a_reply_of_another_shape_is_unavailable_not_a_crash(reply: object) -> None:
    blacklist = RedisBlacklist(OutOfStepClient(reply), RedisFailures())  # type: ignore[arg-type]
    with pytest.raises(BlacklistUnavailable):
        await blacklist.lookup(TokenKey("i", "j"), 7)


async def test_a_well_formed_reply_is_read() -> None:
    blacklist = RedisBlacklist(OutOfStepClient([b"1", None]), RedisFailures())  # type: ignore[arg-type]
    assert (await blacklist.lookup(TokenKey("i", "j"), 7)).token_blocked


class ClosedTransportClient:
    """What redis-py lets through when Redis closes a connection it just accepted (uvloop)."""

    async def mget(self, keys: list[bytes]) -> object:
        raise RuntimeError("unable to perform operation on <TCPTransport closed=True>")


async def test_a_closed_transport_is_unavailable_not_a_crash() -> None:
    blacklist = RedisBlacklist(ClosedTransportClient(), RedisFailures())  # type: ignore[arg-type]
    with pytest.raises(BlacklistUnavailable):
        await blacklist.lookup(TokenKey("i", "j"), 7)
