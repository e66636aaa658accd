"""The RESP3 parser behind the tracking listener: frames arrive in arbitrary slices."""

from __future__ import annotations

import random

import pytest

from revocation.adapters.redis.resp3 import ErrorReply, Frame, ProtocolError, Push, Resp3Parser

# One stream holding every frame type Redis can send us, with the frames it decodes to.
STREAM: list[tuple[bytes, Frame]] = [
    (b"+PONG\r\n", b"PONG"),
    (b"-ERR unknown command\r\n", ErrorReply("ERR unknown command")),
    (b":-42\r\n", -42),
    (b"$5\r\nhe\r\no\r\n", b"he\r\no"),  # a bulk string may hold CRLF
    (b"$0\r\n\r\n", b""),
    (b"$-1\r\n", None),
    (b"*-1\r\n", None),
    (b"_\r\n", None),
    (b",3.25\r\n", 3.25),
    (b",-inf\r\n", float("-inf")),
    (b"#t\r\n", True),
    (b"#f\r\n", False),
    (b"(%d\r\n" % 2**70, 2**70),
    (b"=8\r\ntxt:Some\r\n", b"Some"),
    (b"!9\r\nSYNTAX no\r\n", ErrorReply("SYNTAX no")),
    (b"*0\r\n", []),
    (b"*2\r\n*2\r\n:1\r\n$1\r\na\r\n*1\r\n*0\r\n", [[1, b"a"], [[]]]),
    (b"~2\r\n+a\r\n:2\r\n", [b"a", 2]),
    (b"%2\r\n+server\r\n+redis\r\n+proto\r\n:3\r\n", {b"server": b"redis", b"proto": 3}),
    (b"%1\r\n*2\r\n:1\r\n:2\r\n+pair\r\n", {(1, 2): b"pair"}),
    (
        b">2\r\n$10\r\ninvalidate\r\n*2\r\n$4\r\nrv:a\r\n$4\r\nrv{1\r\n",
        Push([b"invalidate", [b"rv:a", b"rv{1"]]),
    ),
    (b">2\r\n$10\r\ninvalidate\r\n_\r\n", Push([b"invalidate", None])),
    (b"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n+after\r\n", b"after"),
]  # fmt: skip
WHOLE = b"".join(data for data, _ in STREAM)
EXPECTED = [frame for _, frame in STREAM]


def feed_in_slices(*slices: bytes) -> list[Frame]:
    parser = Resp3Parser()
    return [frame for data in slices for frame in parser.feed(data)]


class TestResp3Parser:
    def test_decodes_every_frame_type(self) -> None:
        assert feed_in_slices(WHOLE) == EXPECTED

    def test_any_single_split_point_gives_the_same_frames(self) -> None:
        for cut in range(len(WHOLE) + 1):
            assert feed_in_slices(WHOLE[:cut], WHOLE[cut:]) == EXPECTED, cut

    def test_byte_by_byte(self) -> None:
        assert feed_in_slices(*(WHOLE[i : i + 1] for i in range(len(WHOLE)))) == EXPECTED

    def test_a_frame_is_returned_only_once_complete(self) -> None:
        parser = Resp3Parser()
        assert parser.feed(b"*2\r\n:1\r\n") == []
        assert parser.feed(b":2\r\n+next") == [[1, 2]]
        assert parser.feed(b"\r\n") == [b"next"]

    def test_big_bulk_string_in_random_slices(self) -> None:
        payload = random.randbytes(3_000_000)
        data = b"$%d\r\n%s\r\n+PONG\r\n" % (len(payload), payload)
        cuts = sorted(random.sample(range(1, len(data)), 200))
        slices = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        assert feed_in_slices(*slices) == [payload, b"PONG"]

    def test_big_bulk_string_cut_around_its_end(self) -> None:
        payload = b"x" * 100_000
        data = b"$%d\r\n%s\r\n" % (len(payload), payload)
        for cut in [*range(len(data) - 4, len(data) + 1), 1, 3, 8, 9, 10]:
            assert feed_in_slices(data[:cut], data[cut:]) == [payload], cut

    @pytest.mark.parametrize(
        "data",
        [
            b"?what\r\n",  # unknown type byte
            b":12x\r\n",
            b"$3\r\nabcd\r\n",  # the length does not match
            b"$-2\r\n",
            b"*x\r\n",
            b",pi\r\n",
            b"#x\r\n",
            b"_junk\r\n",
        ],
    )
    def test_rejects_what_is_not_resp3(self, data: bytes) -> None:
        with pytest.raises(ProtocolError):
            Resp3Parser().feed(data)
