"""VerifiedTokenCache: a repeat skips the inner codec, yet every verdict is the inner codec's."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any, Self

import jwt.api_jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from revocation.adapters import verified_tokens
from revocation.adapters.clock import ManualClock
from revocation.adapters.jwt_codec import PyJWTCodec
from revocation.adapters.verified_tokens import VerifiedTokenCache
from revocation.domain.errors import InvalidToken
from revocation.domain.model import Claims, TokenKey
from revocation.domain.ports import TokenCodec
from tests.forged_tokens import hs256

SECRET = "unit-test-secret-of-at-least-32-bytes"
OTHER_SECRET = "another-secret-of-at-least-32-bytes!"
ISSUER = "https://auth.example"
START = 2_000_000_000  # years past the real now: a PyJWT still reading real time disagrees loudly
_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def clock_datetime(clock: ManualClock) -> type[datetime]:
    """A `datetime` for PyJWT's module whose now() is `clock`: both sides judge the same instant."""

    class ClockDatetime(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Self:
            return cls.fromtimestamp(clock.now(), tz)

    return ClockDatetime


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    clock = ManualClock(start=START)
    monkeypatch.setattr(jwt.api_jwt, "datetime", clock_datetime(clock))
    return clock


class CountingCodec:
    """The real codec, counting the calls that reach it."""

    def __init__(self, inner: TokenCodec) -> None:
        self.inner = inner
        self.verified = 0
        self.peeked = 0

    def verify(self, token: str) -> Claims:
        self.verified += 1
        return self.inner.verify(token)

    def peek(self, token: str) -> Claims:
        self.peeked += 1
        return self.inner.peek(token)

    def encode(self, claims: Claims) -> str:
        return self.inner.encode(claims)


def codec(leeway: int = 0) -> PyJWTCodec:
    return PyJWTCodec(
        algorithms=("HS256",),
        verification_key=SECRET,
        signing_key=SECRET,
        issuer=ISSUER,
        leeway_seconds=leeway,
    )


def cached(
    inner: TokenCodec, clock: ManualClock, *, leeway: int = 0, size: int = 100
) -> VerifiedTokenCache:
    return VerifiedTokenCache(inner, clock=clock, leeway_seconds=leeway, max_entries=size)


def token(jti: str = "jti-1", *, secret: str = SECRET, **changes: int) -> str:
    payload: dict[str, Any] = {"sub": "42", "jti": jti, "iat": START, "exp": START + 600}
    return hs256({**payload, "iss": ISSUER, **changes}, secret)


def claims(jti: str = "jti-1", expires_at: int = START + 600) -> Claims:
    return Claims(TokenKey(ISSUER, jti), user_id=42, issued_at=START, expires_at=expires_at)


def edited(token: str, segment: int) -> str:
    """One character changed in the middle of a segment (0 header, 1 payload, 2 signature)."""
    parts = token.split(".")
    part = parts[segment]
    middle = len(part) // 2
    parts[segment] = part[:middle] + ("A" if part[middle] != "A" else "B") + part[middle + 1 :]
    return ".".join(parts)


def respelled(token: str) -> str:
    """Another spelling of the same signature: its last character's 2 unused bits flipped."""
    last = _B64URL.index(token[-1])
    return token[:-1] + _B64URL[last ^ 1]


def verdict(codec: TokenCodec, token: str, *, peek: bool = False) -> Claims | None:
    """The claims, or None for a refusal."""
    try:
        return codec.peek(token) if peek else codec.verify(token)
    except InvalidToken:
        return None


class TestHit:
    def test_a_repeat_verification_skips_the_inner_codec(self, clock: ManualClock) -> None:
        counting = CountingCodec(codec())
        cache = cached(counting, clock)

        assert cache.verify(token()) == claims()
        assert cache.verify(token()) == claims()
        assert counting.verified == 1

    def test_peek_of_a_verified_token_skips_the_inner_codec(self, clock: ManualClock) -> None:
        counting = CountingCodec(codec())
        cache = cached(counting, clock)
        cache.verify(token())

        assert cache.peek(token()) == claims()
        assert counting.peeked == 0

    def test_a_peek_is_remembered_but_never_verifies_anything(self, clock: ManualClock) -> None:
        counting = CountingCodec(codec())
        cache = cached(counting, clock)
        forged = token(secret=OTHER_SECRET)

        assert cache.peek(forged) == claims()  # unverified, as the inner codec's peek says
        assert cache.peek(forged) == claims()
        assert counting.peeked == 1  # the same bytes parse the same way: read once
        assert len(cache) == 0  # nothing counts as verified
        for _ in range(2):
            with pytest.raises(InvalidToken):
                cache.verify(forged)
        assert counting.verified == 3  # the first peek's attempt, then each verify's own

    def test_a_first_peek_verifies_ahead_so_the_token_is_decoded_once(
        self, clock: ManualClock
    ) -> None:
        counting = CountingCodec(codec())
        cache = cached(counting, clock)

        assert cache.peek(token()) == claims()
        assert cache.verify(token()) == claims()
        assert (counting.peeked, counting.verified) == (0, 1)

    def test_a_token_refused_ahead_is_still_peeked_and_refused_by_verify(
        self, clock: ManualClock
    ) -> None:
        counting = CountingCodec(codec())
        cache = cached(counting, clock)
        not_yet_valid = token(nbf=START + 60)

        assert cache.peek(not_yet_valid) == claims()
        with pytest.raises(InvalidToken):
            cache.verify(not_yet_valid)
        clock.advance(60)
        assert cache.verify(not_yet_valid) == claims()  # no refusal was remembered

    def test_encode_delegates(self, clock: ManualClock) -> None:
        cache = cached(codec(), clock)

        assert cache.encode(claims()) == codec().encode(claims())


class TestExpiry:
    @pytest.mark.parametrize("leeway", [0, 30])
    @pytest.mark.parametrize(
        ("past_edge", "live"), [(-1, True), (-0.25, True), (0, False), (0.25, False)]
    )
    def test_a_cached_token_is_refused_exactly_when_pyjwt_refuses_it(
        self, clock: ManualClock, leeway: int, past_edge: float, live: bool
    ) -> None:
        inner = codec(leeway)
        counting = CountingCodec(inner)
        cache = cached(counting, clock, leeway=leeway)
        cache.verify(token())

        clock.set(START + 600 + leeway + past_edge)  # PyJWT refuses when exp <= now - leeway

        assert verdict(cache, token()) == verdict(inner, token()) == (claims() if live else None)
        assert counting.verified == (1 if live else 2)
        assert len(cache) == (1 if live else 0)

    def test_an_expired_hit_gets_the_inner_codecs_own_error(self, clock: ManualClock) -> None:
        cache = cached(codec(), clock)
        cache.verify(token())
        clock.advance(600)

        with pytest.raises(InvalidToken, match="ExpiredSignatureError"):
            cache.verify(token())

    def test_the_verify_after_a_peek_judges_the_time_again(self, clock: ManualClock) -> None:
        """The check peeks, waits for its fast layer, then verifies: the entry the peek found
        serves the verify only if it is still live at the verify's own instant."""
        counting = CountingCodec(codec())
        cache = cached(counting, clock)
        good = token()
        assert cache.peek(good) == cache.verify(good) == claims()  # one decode for both
        assert counting.verified == 1
        assert cache.peek(good) == claims()

        clock.advance(600)  # expired while the check waited

        with pytest.raises(InvalidToken, match="ExpiredSignatureError"):
            cache.verify(good)
        assert (counting.verified, len(cache)) == (2, 0)

    def test_a_clock_stepped_back_verifies_again(self, clock: ManualClock) -> None:
        counting = CountingCodec(codec())
        cache = cached(counting, clock)
        clock.advance(10)
        issued_later = token(iat=START + 10)
        cache.verify(issued_later)

        clock.set(START)  # now before its iat: PyJWT says "not yet valid"

        assert verdict(cache, issued_later) is None
        assert counting.verified == 2


class TestThePeeksPromise:
    """The TokenCodec port's promise the check's refused-token memo relies on: a peek hands back
    the claims object a verify returned only for that very token, while it would verify now."""

    def test_the_same_token_gets_the_verifys_own_claims(self, clock: ManualClock) -> None:
        cache = cached(codec(), clock)
        verified = cache.verify(token())
        assert cache.peek(token()) is verified

    def test_an_expired_token_gets_new_claims(self, clock: ManualClock) -> None:
        cache = cached(codec(), clock)
        verified = cache.verify(token())
        clock.advance(600)
        assert cache.peek(token()) is not verified
        with pytest.raises(InvalidToken):
            cache.verify(token())

    @pytest.mark.parametrize(
        "other",
        [
            pytest.param(lambda: token(secret=OTHER_SECRET), id="forged"),
            pytest.param(lambda: edited(token(), 2), id="edited"),
        ],
    )
    def test_another_token_with_the_same_claims_gets_claims_of_its_own(
        self, clock: ManualClock, other: Callable[[], str]
    ) -> None:
        cache = cached(codec(), clock)
        verified = cache.verify(token())
        peeked = cache.peek(other())
        assert peeked == verified
        assert peeked is not verified


class TestTampering:
    @pytest.mark.parametrize("segment", [0, 1, 2])
    def test_a_one_character_edit_of_a_cached_token_is_refused_by_the_inner_codec(
        self, clock: ManualClock, segment: int
    ) -> None:
        counting = CountingCodec(codec())
        cache = cached(counting, clock)
        cache.verify(token())

        with pytest.raises(InvalidToken):
            cache.verify(edited(token(), segment))
        assert counting.verified == 2

    def test_another_spelling_of_a_cached_signature_is_judged_by_the_inner_codec(
        self, clock: ManualClock
    ) -> None:
        counting = CountingCodec(codec())
        cache = cached(counting, clock)
        cache.verify(token())

        # A lenient base64 decoder reads the same signature; PyJWT >= 2.10 refuses the spelling.
        assert verdict(cache, respelled(token())) == verdict(codec(), respelled(token()))
        assert counting.verified == 2

    @pytest.mark.parametrize("segment", [0, 1, 2])
    def test_the_digest_a_peek_took_serves_only_that_very_token(
        self, clock: ManualClock, segment: int
    ) -> None:
        """The verify after a peek reuses its digest only for the same string: an edited token
        verified after a peek of the cached one is judged by the inner codec, every time."""
        counting = CountingCodec(codec())
        cache = cached(counting, clock)
        good = token()
        assert cache.peek(good) == claims()  # verified ahead: cached
        with pytest.raises(InvalidToken):
            cache.verify(edited(good, segment))
        assert cache.peek(good) == cache.verify(good) == claims()
        assert counting.verified == 2

    def test_a_token_met_for_the_first_time_is_digested_once(
        self, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Its peek (which verifies it ahead) and the check's verify of that very string."""
        digests: list[str] = []

        def counted(token: str) -> bytes:
            digests.append(token)
            return digest(token)

        digest = verified_tokens._digest
        monkeypatch.setattr(verified_tokens, "_digest", counted)
        cache, new = cached(codec(), clock), token()

        assert cache.peek(new) == cache.verify(new) == claims()
        assert digests == [new]

    def test_a_token_no_encoding_can_spell_goes_to_the_inner_codec(
        self, clock: ManualClock
    ) -> None:
        with pytest.raises(InvalidToken):
            cached(codec(), clock).verify("\ud800.\udfff.x")


class TestFailures:
    def test_a_refusal_is_not_cached(self, clock: ManualClock) -> None:
        counting = CountingCodec(codec())
        cache = cached(counting, clock)
        not_yet_valid = token(nbf=START + 60)

        with pytest.raises(InvalidToken):
            cache.verify(not_yet_valid)
        assert len(cache) == 0
        clock.advance(60)

        assert cache.verify(not_yet_valid) == claims()
        assert counting.verified == 2

    def test_a_forgery_reaches_the_inner_codec_every_time(self, clock: ManualClock) -> None:
        counting = CountingCodec(codec())
        cache = cached(counting, clock)

        for _ in range(2):
            with pytest.raises(InvalidToken):
                cache.verify(token(secret=OTHER_SECRET))
        assert counting.verified == 2


class TestBound:
    def test_never_holds_more_than_max_entries_and_the_oldest_goes(
        self, clock: ManualClock
    ) -> None:
        counting = CountingCodec(codec())
        cache = cached(counting, clock, size=3)
        tokens = [token(f"jti-{number}") for number in range(5)]

        for each in tokens:
            cache.verify(each)
            assert len(cache) <= 3
        for newest in tokens[2:]:
            cache.verify(newest)
        assert counting.verified == 5
        cache.verify(tokens[0])
        assert counting.verified == 6

    def test_a_hit_does_not_spare_the_oldest(self, clock: ManualClock) -> None:
        counting = CountingCodec(codec())
        cache = cached(counting, clock, size=2)
        first, second, third = (token(f"jti-{number}") for number in range(3))
        cache.verify(first)
        cache.verify(second)
        cache.verify(first)  # a hit: first-in, first-out all the same

        cache.verify(third)
        cache.verify(first)

        assert counting.verified == 4


class TestConstruction:
    def test_refuses_zero_entries_the_container_uses_the_inner_codec_instead(self) -> None:
        with pytest.raises(ValueError, match="max_entries"):
            VerifiedTokenCache(codec(), clock=ManualClock(), leeway_seconds=0, max_entries=0)

    def test_refuses_a_negative_leeway(self) -> None:
        with pytest.raises(ValueError, match="leeway"):
            VerifiedTokenCache(codec(), clock=ManualClock(), leeway_seconds=-1, max_entries=1)


def pool() -> list[str]:
    """Tokens whose verdicts change as the clock moves around START, and some that never pass."""
    valid = [token(f"exp-{seconds}", exp=START + seconds) for seconds in (5, 10, 20)]
    return [
        *valid,
        edited(valid[0], 1),
        edited(valid[1], 2),
        respelled(valid[2]),
        token("forged", secret=OTHER_SECRET),
        token("later", iat=START + 8, exp=START + 30),
        token("nbf", nbf=START + 3, exp=START + 15),
        token("expired", exp=START - 1),
    ]


POOL = len(pool())
STEPS = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["verify", "peek"]), st.integers(0, POOL - 1)),
        st.tuples(st.just("advance"), st.integers(-16, 40)),  # quarter seconds
    ),
    max_size=30,
)


@settings(max_examples=100, deadline=None, database=None)
@given(leeway=st.sampled_from([0, 5]), size=st.integers(1, 4), steps=STEPS)
def test_the_cache_always_agrees_with_the_inner_codec(
    leeway: int, size: int, steps: list[tuple[str, int]]
) -> None:
    clock = ManualClock(start=START)
    tokens = pool()
    reference = codec(leeway)
    cache = cached(codec(leeway), clock, leeway=leeway, size=size)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(jwt.api_jwt, "datetime", clock_datetime(clock))
        for action, value in steps:
            if action == "advance":
                clock.advance(value / 4)
                continue
            peek = action == "peek"
            assert verdict(cache, tokens[value], peek=peek) == verdict(
                reference, tokens[value], peek=peek
            )
            assert len(cache) <= size
