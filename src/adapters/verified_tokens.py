"""A TokenCodec that remembers the tokens it verified, so a repeat skips the signature check.

Safe: a signature over the same bytes verifies the same way forever under the same key; iat/nbf
checks only get easier as time goes on (a clock stepped back re-verifies); exp is re-checked on
every use; revocation is NOT cached here: the blacklist and the token log still decide each request.
It also remembers what `peek` read from a token, which depends on its bytes alone: a revoked
token, rejected before any signature check, then costs no decoding either.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import NamedTuple

from revocation.domain.errors import InvalidToken
from revocation.domain.model import Claims
from revocation.domain.ports import Clock, TokenCodec


class _Verified(NamedTuple):
    claims: Claims
    verified_at: float  # the clock just after the inner codec accepted the token


class VerifiedTokenCache:
    """The `TokenCodec` port around another one, serving repeat verifications from memory."""

    def __init__(
        self, inner: TokenCodec, *, clock: Clock, leeway_seconds: int, max_entries: int
    ) -> None:
        # `leeway_seconds` must be the inner codec's: a hit applies exactly its expiry rule.
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1; to cache nothing, use the inner one")
        if leeway_seconds < 0:
            raise ValueError("leeway_seconds must not be negative")
        self._inner = inner
        self._clock = clock
        self._leeway = leeway_seconds
        self._max_entries = max_entries
        # Oldest inserted goes first (FIFO), not least recently used: a hit then costs no
        # reordering, and a token evicted while still in use costs one verification, no more.
        self._verified: OrderedDict[bytes, _Verified] = OrderedDict()
        self._peeked: OrderedDict[bytes, Claims] = OrderedDict()  # unverified: for peek only
        # The check peeks at a token, then verifies that very string: the digest the peek took,
        # and the entry it found, serve the verify that follows (the same object, so the same
        # bytes), then are dropped. Held between the two calls only (should a check end between
        # them, until the next one).
        self._just_peeked: tuple[str, bytes, _Verified | None] | None = None

    def verify(self, token: str) -> Claims:
        just_peeked, self._just_peeked = self._just_peeked, None
        if just_peeked is None or just_peeked[0] is not token:
            return self._verify(token, _digest(token))
        _, digest, entry = just_peeked
        # The entry may have been evicted since, which changes nothing: it is still the claims
        # of these bytes. Its time checks are made again, at this instant.
        if entry is not None and self._still_live(entry, self._clock.now()):
            return entry.claims
        return self._verify(token, digest)

    def _verify(self, token: str, digest: bytes) -> Claims:
        claims = self._live(digest)
        if claims is None:
            claims = self._inner.verify(token)  # a refusal propagates and is never cached
            self._remember(digest, _Verified(claims, self._clock.now()))
        return claims

    def peek(self, token: str) -> Claims:
        self._just_peeked = None  # the previous check's token is not held past this one
        digest = _digest(token)
        entry = self._verified.get(digest)
        if entry is not None:
            if self._still_live(entry, self._clock.now()):
                self._just_peeked = (token, digest, entry)
                return entry.claims
            del self._verified[digest]
        claims = self._peeked.get(digest) or self._verified_ahead(token, digest)
        if claims is None:
            claims = self._inner.peek(token)  # no time checks: the same bytes, the same claims
            if len(self._peeked) >= self._max_entries:
                self._peeked.popitem(last=False)
            self._peeked[digest] = claims
        self._just_peeked = (token, digest, None)
        return claims

    def _verified_ahead(self, token: str, digest: bytes) -> Claims | None:
        """A token met for the first time is verified now, as `verify` would (and remembered
        as verified): the check verifies every token it peeks at once its fast layer answered,
        and one PyJWT decode costs about as much as the peek's own. None when it is refused:
        the peek then reads it unverified, and `verify` refuses it again."""
        try:
            return self._verify(token, digest)
        except InvalidToken:
            return None

    def encode(self, claims: Claims) -> str:
        return self._inner.encode(claims)

    def __len__(self) -> int:
        return len(self._verified)

    def _live(self, digest: bytes) -> Claims | None:
        """The cached claims if they would still pass the inner codec's time checks now."""
        entry = self._verified.get(digest)
        if entry is None:
            return None
        if not self._still_live(entry, self._clock.now()):
            del self._verified[digest]
            return None
        return entry.claims

    def _still_live(self, entry: _Verified, now: float) -> bool:
        # PyJWT's own test, same expression (same float rounding): expired iff exp <= now - leeway.
        # iat and nbf passed at `verified_at`, so they pass at any later instant; a clock that
        # has gone back before it makes no such promise, so that token is verified again.
        return entry.claims.expires_at > now - self._leeway and now >= entry.verified_at

    def _remember(self, digest: bytes, entry: _Verified) -> None:
        if len(self._verified) >= self._max_entries:
            self._verified.popitem(last=False)
        self._verified[digest] = entry


def _digest(token: str) -> bytes:
    # SHA-256 of the exact bytes: a forgery would need a second preimage of a token someone else
    # had signed (2^256 work). OpenSSL's SHA-256 uses the CPU's SHA extensions: ~0.7 us for a
    # 350-byte token here, against ~0.9 us for BLAKE2b-128 and ~90 us for one HS256 decode.
    # Only digests are kept: no token is held past the next check (see `_just_peeked`).
    # "surrogatepass": any str has one encoding, so a lone surrogate reaches the inner codec
    # and is refused there (InvalidToken) instead of raising UnicodeEncodeError here.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


_: type[TokenCodec] = VerifiedTokenCache
