"""`SegmentsInC` answers every segment exactly as the installed PyJWT's own check does."""

from __future__ import annotations

import time

import jwt
from hypothesis import example, given, settings
from hypothesis import strategies as st
from jwt.api_jws import PyJWS
from jwt.utils import base64url_encode

from revocation.adapters.jwt_codec import PyJWTCodec
from revocation.adapters.jwt_segments import SegmentsInC
from revocation.domain.errors import InvalidToken
from revocation.domain.model import Claims, TokenKey
from tests.unit.test_token_spellings import one_character_spellings

SECRET = "segments-test-secret-of-at-least-32-bytes"


def outcome(check: object, segment: bytes) -> bytes | tuple[str, str]:
    """What a segment check returns, or the type and words of what it raises."""
    try:
        return check(segment, "payload")  # type: ignore[operator, no-any-return]
    except Exception as error:
        return type(error).__name__, str(error)


# Near-base64url text: the alphabet's edges, "=", the other base64 alphabet's "+/", and bytes
# that are no base64 at all; and the canonical spelling of random bytes, padded or not.
CHARACTERS = b"Az09-_=+/!. \x00\xff"
NEAR_BASE64URL = st.lists(st.sampled_from(CHARACTERS), max_size=14).map(bytes)
ENCODED = st.tuples(st.binary(max_size=20), st.integers(0, 4)).map(
    lambda pair: base64url_encode(pair[0]) + b"=" * pair[1]
)


@settings(max_examples=3_000, deadline=None, database=None)
@given(st.one_of(NEAR_BASE64URL, ENCODED))
@example(b"")
@example(b"QQ")
@example(b"QQ==")
@example(b"QQ===")
@example(b"QUJD====")
@example(b"QR")  # unused low bits set: not the canonical spelling of its byte
@example(b"Q")
@example(b"QQ=")
@example(b"Q+/A")
@example(b"QUJD\xff")
def test_a_segment_gets_pyjwts_own_answer(segment: bytes) -> None:
    assert outcome(SegmentsInC._decode_base64url_segment, segment) == outcome(
        PyJWS._decode_base64url_segment, segment
    )


def test_the_codec_accepts_exactly_the_spellings_plain_pyjwt_accepts() -> None:
    codec = PyJWTCodec(algorithms=("HS256",), verification_key=SECRET, signing_key=SECRET)
    now = int(time.time())
    token = codec.encode(Claims(TokenKey("", "segments"), 42, now, now + 3600))
    plain = jwt.PyJWT()

    def accepted_by_pyjwt(spelling: str) -> bool:
        try:
            plain.decode(spelling, SECRET, algorithms=["HS256"], options={"verify_sub": False})
        except jwt.PyJWTError:
            return False
        return True

    def accepted_by_codec(spelling: str) -> bool:
        try:
            codec.verify(spelling)
        except InvalidToken:
            return False
        return True

    spellings = sorted(set(one_character_spellings(token)))
    verdicts = {s: (accepted_by_codec(s), accepted_by_pyjwt(s)) for s in spellings}
    assert any(ours for ours, _ in verdicts.values())  # the signature padded with "=", at least
    assert {s: v for s, v in verdicts.items() if v[0] != v[1]} == {}
