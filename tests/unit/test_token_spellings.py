"""The token-spelling test: a token may have other spellings PyJWT accepts; all must stay revoked.

PyJWT accepts "=" padding on a segment (AWS ALB sends it), and laxer base64 decoders also ignore
the unused low bits of a segment's last character, so a revoked token can be re-spelled and still
verify. The blacklist keys on (iss, jti), never on the string: every spelling that verifies must
carry the original's key and be blocked.
"""

from __future__ import annotations

import string
import time
from collections.abc import Iterator

import pytest

from revocation.adapters.clock import ManualClock
from revocation.adapters.jwt_codec import PyJWTCodec
from revocation.adapters.memory import InMemoryBlacklist
from revocation.domain.errors import InvalidToken
from revocation.domain.model import BlacklistEntry, Claims, TokenKey

SECRET = "spelling-test-secret-of-at-least-32-bytes"
ALPHABET = string.ascii_letters + string.digits + "-_" + "=."


def one_character_spellings(token: str) -> Iterator[str]:
    """Every append, insertion, deletion and substitution of one character."""
    for position in range(len(token) + 1):
        for character in ALPHABET:
            yield token[:position] + character + token[position:]
    for position in range(len(token)):
        yield token[:position] + token[position + 1 :]
        for character in ALPHABET:
            if character != token[position]:
                yield token[:position] + character + token[position + 1 :]


@pytest.fixture(scope="module")
def codec() -> PyJWTCodec:
    return PyJWTCodec(
        algorithms=("HS256",), verification_key=SECRET, signing_key=SECRET, issuer="spelling"
    )


@pytest.fixture(scope="module")
def original(codec: PyJWTCodec) -> Claims:
    now = int(time.time())
    return Claims(
        TokenKey("spelling", "revoked-jti"), user_id=42, issued_at=now, expires_at=now + 3600
    )


@pytest.fixture(scope="module")
def accepted(codec: PyJWTCodec, original: Claims) -> dict[str, Claims]:
    """Each spelling of the original token that PyJWT still verifies, with what it says."""
    token = codec.encode(original)
    spellings: dict[str, Claims] = {}
    for spelling in set(one_character_spellings(token)) - {token}:
        try:
            spellings[spelling] = codec.verify(spelling)
        except InvalidToken:
            continue
    return spellings


def test_some_spellings_verify(codec: PyJWTCodec, original: Claims) -> None:
    # Otherwise the test below would pass vacuously, and miss a switch to raw-string keys.
    token = codec.encode(original)

    assert codec.verify(token + "=") == original


def test_every_accepted_spelling_carries_the_same_key(
    accepted: dict[str, Claims], original: Claims
) -> None:
    assert accepted
    assert {claims.key for claims in accepted.values()} == {original.key}
    assert set(accepted.values()) == {original}


async def test_blacklisting_the_original_blocks_every_spelling(
    codec: PyJWTCodec, accepted: dict[str, Claims], original: Claims
) -> None:
    blacklist = InMemoryBlacklist(ManualClock(start=time.time()))
    await blacklist.add([BlacklistEntry(original.key, ttl_seconds=3600)])

    for spelling in accepted:
        peeked = codec.peek(spelling)  # what the request path looks up before verifying
        assert (await blacklist.lookup(peeked.key, peeked.user_id)).token_blocked, spelling
