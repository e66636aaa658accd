"""Published keys and their rotation: every verification key in the JWKS, tokens naming their
signing key, and a rotation that keeps older tokens verifying."""

from __future__ import annotations

import time

import jwt
import pytest
from litestar.testing import AsyncTestClient

from revocation.adapters.jwt_codec import PyJWTCodec
from revocation.domain.errors import InvalidToken
from revocation.domain.model import Claims, TokenKey
from revocation.entrypoints.app import create_app
from tests.app_factory import in_memory_container
from tests.keys import pem_pair

ALGORITHMS = ["RS256", "ES256", "EdDSA"]


def claims(jti: str = "j1") -> Claims:
    now = int(time.time())
    return Claims(TokenKey("iss", jti), 7, now, now + 600)


def codec(algorithm: str, signing: tuple[str, str], *older: str) -> PyJWTCodec:
    private, public = signing
    return PyJWTCodec(
        algorithms=[algorithm],
        verification_key=public,
        signing_key=private,
        previous_verification_keys=older,
    )


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_token_names_its_key_and_any_jwt_library_verifies_it_from_the_jwks(
    algorithm: str,
) -> None:
    issuer = codec(algorithm, pem_pair(algorithm))
    token = issuer.encode(claims())
    (jwk,) = issuer.public_jwks
    assert jwt.get_unverified_header(token)["kid"] == jwk["kid"]
    assert (jwk["alg"], jwk["use"]) == (algorithm, "sig")
    assert "d" not in jwk  # public members only
    key = jwt.PyJWKSet.from_dict({"keys": issuer.public_jwks})[jwk["kid"]]
    assert jwt.decode(token, key, algorithms=[algorithm])["sub"] == "7"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_rotation_keeps_the_old_keys_tokens_valid(algorithm: str) -> None:
    old, new = pem_pair(algorithm), pem_pair(algorithm)
    before = codec(algorithm, old).encode(claims("old"))
    rotated = codec(algorithm, new, old[1])
    after = rotated.encode(claims("new"))
    assert rotated.verify(before).key.jti == "old"
    assert rotated.verify(after).key.jti == "new"
    kids = [jwk["kid"] for jwk in rotated.public_jwks]
    assert jwt.get_unverified_header(after)["kid"] == kids[0]
    assert jwt.get_unverified_header(before)["kid"] == kids[1]
    with pytest.raises(InvalidToken):  # once the old key is dropped
        codec(algorithm, new).verify(before)


def test_a_token_without_kid_is_tried_against_every_key() -> None:
    """tymon/jwt-auth signs without a kid."""
    old, new = pem_pair("ES256"), pem_pair("ES256")
    unnamed = jwt.encode({**payload(), "jti": "x"}, old[0], algorithm="ES256")
    assert codec("ES256", new, old[1]).verify(unnamed).key.jti == "x"


def test_a_kid_naming_another_key_than_the_signer_is_refused() -> None:
    old, new = pem_pair("ES256"), pem_pair("ES256")
    rotated = codec("ES256", new, old[1])
    new_kid = rotated.public_jwks[0]["kid"]
    lying = jwt.encode(payload(), old[0], algorithm="ES256", headers={"kid": new_kid})
    with pytest.raises(InvalidToken):
        rotated.verify(lying)


def test_a_signing_key_whose_public_half_is_not_published_is_refused() -> None:
    (private, _), (_, other_public) = pem_pair("ES256"), pem_pair("ES256")
    with pytest.raises(ValueError, match="not among the verification keys"):
        PyJWTCodec(algorithms=["ES256"], verification_key=other_public, signing_key=private)


def test_hmac_publishes_nothing_and_names_no_key() -> None:
    secret = "a-secret-that-is-long-enough-for-hs256-tokens"
    hmac = PyJWTCodec(algorithms=["HS256"], verification_key=secret, signing_key=secret)
    assert hmac.public_jwks == []
    assert "kid" not in jwt.get_unverified_header(hmac.encode(claims()))


async def test_the_service_publishes_every_verification_key() -> None:
    old, new = pem_pair("EdDSA"), pem_pair("EdDSA")
    container = in_memory_container(
        JWT_ALGORITHMS="EdDSA",
        JWT_SECRET="",
        JWT_PRIVATE_KEY=new[0],
        JWT_PUBLIC_KEY=new[1],
        JWT_VERIFICATION_KEYS=old[1],
    )
    async with AsyncTestClient(app=create_app(container)) as client:
        keys = (await client.get("/.well-known/jwks.json")).json()["keys"]
        metadata = (await client.get("/.well-known/oauth-authorization-server")).json()
    assert [key["x"] for key in keys] == [
        jwk["x"] for jwk in codec("EdDSA", new, old[1]).public_jwks
    ]
    assert metadata["jwks_uri"].endswith("/.well-known/jwks.json")


async def test_an_hmac_service_publishes_an_empty_set() -> None:
    async with AsyncTestClient(app=create_app(in_memory_container())) as client:
        assert (await client.get("/.well-known/jwks.json")).json() == {"keys": []}


def payload() -> dict[str, object]:
    now = int(time.time())
    return {"sub": "7", "jti": "j", "iat": now, "exp": now + 600, "iss": "iss"}
