"""A RESP3 reader for the tracking connection: incremental, push frames apart from replies.

redis-py's asyncio client reads RESP3, but hands an `invalidate` push only to a handler set on
its connection's private parser; through its public API (`read_response(push_request=True)`)
the push arrives as None, keys lost. The tracking connection needs those keys, hence this
reader (a test keeps watching redis-py: tests/integration/test_redis_tracking.py).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, TypeAlias


class ProtocolError(Exception):
    """The byte stream is not RESP3, or not the reply we expected."""


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """A `-` or `!` frame: Redis refused a command."""

    message: str


@dataclass(frozen=True, slots=True)
class Push:
    """A `>` frame: out-of-band data, such as `invalidate`, never a reply."""

    items: list[Frame]


# Simple and bulk strings are bytes; sets are lists; attributes are read and dropped.
Frame: TypeAlias = (
    bytes | int | float | bool | ErrorReply | Push | list["Frame"] | dict[Any, "Frame"] | None
)


class _Incomplete(Exception):
    """The buffer ends inside a frame."""


class Resp3Parser:
    """Incremental: feed any slice of the stream, get back the frames it completed."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        done = 0
        with contextlib.suppress(_Incomplete):
            while done < len(self._buffer):
                frame, done = self._frame(done)
                frames.append(frame)
        del self._buffer[:done]
        return frames

    def _frame(self, start: int) -> tuple[Frame, int]:
        end = self._buffer.find(b"\r\n", start)
        if end < 0:
            raise _Incomplete
        marker, line, at = chr(self._buffer[start]), bytes(self._buffer[start + 1 : end]), end + 2
        if marker in "$=!":
            return self._blob(marker, _integer(line), at)
        if marker in "*>~%|":
            return self._aggregate(marker, _integer(line), at)
        return _scalar(marker, line), at

    def _blob(self, marker: str, length: int, at: int) -> tuple[Frame, int]:
        if length == -1:  # RESP2's null bulk string
            return None, at
        end = at + length
        if len(self._buffer) < end + 2:
            raise _Incomplete
        if length < 0 or self._buffer[end : end + 2] != b"\r\n":
            raise ProtocolError(f"bad {marker} frame length")
        blob = bytes(self._buffer[at:end])
        if marker == "!":
            return ErrorReply(blob.decode("utf-8", "replace")), end + 2
        return (blob[4:] if marker == "=" else blob), end + 2  # "=" starts with "txt:"

    def _aggregate(self, marker: str, count: int, at: int) -> tuple[Frame, int]:
        if count == -1:  # RESP2's null array
            return None, at
        items: list[Frame] = []
        for _ in range(count * 2 if marker in "%|" else count):
            item, at = self._frame(at)
            items.append(item)
        if marker == "|":  # attributes annotate the frame that follows
            return self._frame(at)
        if marker == "%":
            pairs = zip(items[::2], items[1::2], strict=True)
            return {_hashable(key): value for key, value in pairs}, at
        return (Push(items) if marker == ">" else items), at


def _integer(line: bytes) -> int:
    try:
        return int(line)
    except ValueError:
        raise ProtocolError("bad RESP3 integer") from None


def _scalar(marker: str, line: bytes) -> Frame:
    if marker == "+":
        return line
    if marker == "-":
        return ErrorReply(line.decode("utf-8", "replace"))
    if marker in ":(":
        return _integer(line)
    if marker == ",":
        try:
            return float(line)
        except ValueError:
            raise ProtocolError("bad RESP3 double") from None
    if marker == "#" and line in (b"t", b"f"):
        return line == b"t"
    if marker == "_" and not line:
        return None
    raise ProtocolError(f"bad RESP3 frame type {marker!r}")


def _hashable(key: Frame) -> Any:
    return tuple(key) if isinstance(key, list) else key


def encode_command(*args: bytes) -> bytes:
    """A command as RESP: an array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    parts += [b"$%d\r\n%s\r\n" % (len(arg), arg) for arg in args]
    return b"".join(parts)
