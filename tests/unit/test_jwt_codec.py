"""PyJWTCodec: what it signs, what it accepts, and everything it must refuse as InvalidToken."""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import hmac
import json
import sys
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import HMACAlgorithm

from revocation.adapters.jwt_codec import PyJWTCodec, _KnownSecretsHMAC
from revocation.domain.errors import InvalidToken
from revocation.domain.model import MAX_USER_ID, Claims, TokenKey

SECRET = "unit-test-secret-of-at-least-32-bytes"
OTHER_SECRET = "another-secret-of-at-least-32-bytes!"
ISSUER = "https://auth.example"
NOW = int(time.time())


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: object) -> str:
    return b64(json.dumps(value).encode())


def claims_dict(**changes: Any) -> dict[str, Any]:
    """A valid payload, with `changes` applied; a change to None removes that claim."""
    payload = {"sub": "42", "jti": "jti-1", "iat": NOW, "exp": NOW + 600, "iss": ISSUER}
    payload.update(changes)
    return {name: value for name, value in payload.items() if value is not None}


def hs256(payload: dict[str, Any], secret: str | bytes = SECRET) -> str:
    """Sign any payload by hand, so tests can send what PyJWT's encode would not."""
    signing_input = f"{segment({'alg': 'HS256', 'typ': 'JWT'})}.{segment(payload)}"
    key = secret.encode() if isinstance(secret, str) else secret
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def hs_codec(**settings: Any) -> PyJWTCodec:
    options: dict[str, Any] = {"issuer": ISSUER, "audience": None, "leeway_seconds": 0}
    options.update(settings)
    return PyJWTCodec(algorithms=("HS256",), verification_key=SECRET, signing_key=SECRET, **options)


def pem_private(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def pem_public(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@functools.cache
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


NOT_JSON = b"\xff\xfe not json"
CLAIMS = Claims(key=TokenKey(ISSUER, "jti-1"), user_id=42, issued_at=NOW, expires_at=NOW + 600)


@pytest.fixture(autouse=True)
def fresh_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """NOW is read when each test runs: an import-time value goes stale in a long suite."""
    now = int(time.time())
    module = sys.modules[__name__]
    monkeypatch.setattr(module, "NOW", now)
    monkeypatch.setattr(
        module, "CLAIMS", dataclasses.replace(CLAIMS, issued_at=now, expires_at=now + 600)
    )


class TestRoundTrip:
    def test_verify_returns_the_claims_encode_signed(self) -> None:
        codec = hs_codec()

        assert codec.verify(codec.encode(CLAIMS)) == CLAIMS

    def test_encode_sends_sub_as_a_string_and_no_issuer_when_empty(self) -> None:
        codec = hs_codec(issuer=None)
        claims = Claims(key=TokenKey("", "j"), user_id=7, issued_at=NOW, expires_at=NOW + 60)

        token = codec.encode(claims)

        payload = jwt.decode(token, options={"verify_signature": False})
        assert payload == {"sub": "7", "jti": "j", "iat": NOW, "exp": NOW + 60}
        assert codec.verify(token) == claims

    def test_audience_is_written_and_checked(self) -> None:
        codec = hs_codec(audience="api")

        token = codec.encode(CLAIMS)

        assert jwt.decode(token, options={"verify_signature": False})["aud"] == "api"
        assert codec.verify(token) == CLAIMS

    @pytest.mark.parametrize("algorithm", ["ES256", "RS256", "PS256"])
    def test_public_key_algorithms_round_trip(self, algorithm: str) -> None:
        key = ec_key() if algorithm == "ES256" else rsa_key()
        codec = PyJWTCodec(
            algorithms=(algorithm,),
            verification_key=pem_public(key),
            signing_key=pem_private(key),
            issuer=ISSUER,
        )

        token = codec.encode(CLAIMS)

        assert jwt.get_unverified_header(token)["alg"] == algorithm
        assert codec.verify(token) == CLAIMS

    def test_encode_without_a_signing_key_says_so(self) -> None:
        codec = PyJWTCodec(algorithms=("HS256",), verification_key=SECRET)

        with pytest.raises(RuntimeError, match="signing_key"):
            codec.encode(CLAIMS)

    def test_peek_reads_claims_without_checking_signature_or_expiry(self) -> None:
        token = hs256(claims_dict(exp=NOW - 3600), secret=OTHER_SECRET)

        assert hs_codec().peek(token).key == TokenKey(ISSUER, "jti-1")


class TestSubject:
    def test_accepts_an_integer_sub_as_tymon_jwt_auth_sends(self) -> None:
        assert hs_codec().verify(hs256(claims_dict(sub=42))).user_id == 42

    @pytest.mark.parametrize("sub", [1, "1", MAX_USER_ID, str(MAX_USER_ID)])
    def test_accepts_the_whole_user_id_range(self, sub: int | str) -> None:
        assert hs_codec().verify(hs256(claims_dict(sub=sub))).user_id == int(sub)

    @pytest.mark.parametrize(
        "sub",
        [
            "007",
            "0",
            0,
            "-1",
            -1,
            "1.5",
            1.5,
            2.0,
            2**63,
            str(2**63),
            True,
            "",
            " 1",
            "\u0661",
            [1],
        ],
    )
    def test_refuses_anything_else(self, sub: object) -> None:
        token = hs256(claims_dict(sub=sub))

        with pytest.raises(InvalidToken):
            hs_codec().verify(token)
        with pytest.raises(InvalidToken):
            hs_codec().peek(token)


class TestRequiredClaims:
    @pytest.mark.parametrize("claim", ["sub", "jti", "iat", "exp"])
    def test_refuses_a_token_without(self, claim: str) -> None:
        token = hs256(claims_dict(**{claim: None}))

        with pytest.raises(InvalidToken):
            hs_codec(issuer=None).verify(token)
        with pytest.raises(InvalidToken):
            hs_codec(issuer=None).peek(token)

    @pytest.mark.parametrize("jti", ["", "x" * 256, 5, ["a"], "a\x00b", "\ud800"])
    def test_refuses_a_bad_jti(self, jti: object) -> None:
        with pytest.raises(InvalidToken):
            hs_codec().verify(hs256(claims_dict(jti=jti)))

    def test_accepts_a_jti_of_255_characters(self) -> None:
        assert hs_codec().verify(hs256(claims_dict(jti="é" * 255))).key.jti == "é" * 255

    @pytest.mark.parametrize("claim", ["iat", "exp"])
    @pytest.mark.parametrize("kind", [float, str, bool])
    def test_refuses_times_that_are_not_whole_seconds(self, claim: str, kind: type) -> None:
        value = {float: NOW + 0.5, str: str(NOW), bool: True}[kind]
        token = hs256(claims_dict(**{claim: value}))

        with pytest.raises(InvalidToken):
            hs_codec(leeway_seconds=10**10).verify(token)
        with pytest.raises(InvalidToken):
            hs_codec().peek(token)

    @pytest.mark.parametrize("iss", [5, "x" * 256])
    def test_refuses_a_bad_issuer_even_when_none_is_configured(self, iss: object) -> None:
        with pytest.raises(InvalidToken):
            hs_codec(issuer=None).verify(hs256(claims_dict(iss=iss)))

    def test_a_token_without_issuer_has_an_empty_one(self) -> None:
        claims = hs_codec(issuer=None).verify(hs256(claims_dict(iss=None)))

        assert claims.key == TokenKey("", "jti-1")


class TestTime:
    def test_refuses_an_expired_token(self) -> None:
        with pytest.raises(InvalidToken):
            hs_codec().verify(hs256(claims_dict(exp=NOW - 1)))

    def test_leeway_admits_a_token_just_expired(self) -> None:
        token = hs256(claims_dict(exp=NOW - 5))

        assert hs_codec(leeway_seconds=60).verify(token).expires_at == NOW - 5

    def test_refuses_a_token_not_yet_valid(self) -> None:
        with pytest.raises(InvalidToken):
            hs_codec().verify(hs256(claims_dict(nbf=NOW + 600)))

    def test_leeway_admits_a_token_almost_valid(self) -> None:
        assert hs_codec(leeway_seconds=60).verify(hs256(claims_dict(nbf=NOW + 5)))

    def test_refuses_a_token_issued_in_the_future(self) -> None:
        with pytest.raises(InvalidToken):
            hs_codec().verify(hs256(claims_dict(iat=NOW + 600)))


class TestIssuerAndAudience:
    @pytest.mark.parametrize("iss", ["https://evil.example", None])
    def test_refuses_another_or_no_issuer_when_configured(self, iss: str | None) -> None:
        with pytest.raises(InvalidToken):
            hs_codec().verify(hs256(claims_dict(iss=iss)))

    @pytest.mark.parametrize("aud", ["other", None, ["other"]])
    def test_refuses_another_or_no_audience_when_configured(self, aud: object) -> None:
        with pytest.raises(InvalidToken):
            hs_codec(audience="api").verify(hs256(claims_dict(aud=aud)))

    def test_refuses_an_audience_when_none_is_configured(self) -> None:
        with pytest.raises(InvalidToken):
            hs_codec().verify(hs256(claims_dict(aud="api")))


class TestSignature:
    def test_refuses_an_unsigned_alg_none_token(self) -> None:
        token = f"{segment({'alg': 'none', 'typ': 'JWT'})}.{segment(claims_dict())}."

        with pytest.raises(InvalidToken):
            hs_codec().verify(token)

    def test_refuses_hs256_signed_with_the_rs256_public_key(self) -> None:
        public_pem = pem_public(rsa_key())
        codec = PyJWTCodec(algorithms=("RS256",), verification_key=public_pem, issuer=ISSUER)

        with pytest.raises(InvalidToken):
            codec.verify(hs256(claims_dict(), secret=public_pem))

    def test_refuses_an_algorithm_outside_the_allow_list(self) -> None:
        secret = SECRET * 2  # 64+ bytes, a valid HS512 key too: only the allow-list refuses
        codec = PyJWTCodec(algorithms=("HS256",), verification_key=secret, issuer=ISSUER)

        with pytest.raises(InvalidToken):
            codec.verify(jwt.encode(claims_dict(), secret, algorithm="HS512"))

    def test_refuses_a_token_signed_with_another_secret(self) -> None:
        with pytest.raises(InvalidToken):
            hs_codec().verify(hs256(claims_dict(), secret=OTHER_SECRET))

    def test_refuses_a_tampered_payload(self) -> None:
        header, _, signature = hs256(claims_dict()).split(".")
        forged = f"{header}.{segment(claims_dict(sub='1'))}.{signature}"

        with pytest.raises(InvalidToken):
            hs_codec().verify(forged)

    def test_refuses_a_tampered_signature(self) -> None:
        token = hs256(claims_dict())
        flipped = "A" if token[-10] != "A" else "B"

        with pytest.raises(InvalidToken):
            hs_codec().verify(token[:-10] + flipped + token[-9:])

    @pytest.mark.parametrize(
        "token",
        [
            "",
            "garbage",
            "a.b.c",
            "a.b.c.d",
            "...",
            "ÿþ.ÿþ.ÿþ",
            "\ud800.\udfff.x",
            "eyJhbGciOiJIUzI1NiJ9.%%%%.abc",
            f"{segment([1])}.{segment(claims_dict())}.x",
            f"{segment({'alg': 'HS256'})}.{b64(NOT_JSON)}.x",
            f"{segment({'alg': 'HS256'})}.{segment([1, 2])}.x",
            f"{segment({'alg': 'HS256', 'kid': 5})}.{segment(claims_dict())}.x",
            f"{segment({'alg': 'HS256'})}.{b64(b'[' * 50_000)}.x",
        ],
    )
    def test_malformed_input_is_an_invalid_token(self, token: str) -> None:
        with pytest.raises(InvalidToken):
            hs_codec().verify(token)
        with pytest.raises(InvalidToken):
            hs_codec().peek(token)


class TestConstruction:
    @pytest.mark.parametrize(
        ("algorithms", "message"),
        [
            ((), "non-empty"),
            ("HS256", "non-empty list"),
            (("none",), "none"),
            (("HS256", "none"), "none"),
            (("HS999",), "unknown"),
            (("HS256", "RS256"), "key confusion"),
        ],
    )
    def test_refuses_an_unsafe_allow_list(self, algorithms: tuple[str, ...], message: str) -> None:
        with pytest.raises(ValueError, match=message):
            PyJWTCodec(algorithms=algorithms, verification_key=SECRET)

    def test_refuses_a_public_key_pem_as_an_hmac_secret(self) -> None:
        with pytest.raises(ValueError, match="not a usable HS256 key"):
            PyJWTCodec(algorithms=("HS256",), verification_key=pem_public(rsa_key()))

    def test_refuses_a_short_hmac_secret(self) -> None:
        with pytest.raises(ValueError, match="too weak"):
            PyJWTCodec(algorithms=("HS256",), verification_key="short")

    def test_refuses_a_key_of_another_family(self) -> None:
        with pytest.raises(ValueError, match="not a usable RS256 key"):
            PyJWTCodec(algorithms=("RS256",), verification_key=pem_public(ec_key()))

    def test_refuses_a_private_key_for_verification(self) -> None:
        with pytest.raises(ValueError, match="public key"):
            PyJWTCodec(algorithms=("RS256",), verification_key=pem_private(rsa_key()))

    def test_refuses_a_negative_leeway(self) -> None:
        with pytest.raises(ValueError, match="leeway"):
            PyJWTCodec(algorithms=("HS256",), verification_key=SECRET, leeway_seconds=-1)


class TestSecretsPreparedOnce:
    """PyJWT prepares the key at every decode and encode; the codec's HMAC algorithms take the
    secrets its ring checked at start-up as they are, and prepare any other key in full."""

    def test_the_rings_secrets_are_not_prepared_again(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        codec = PyJWTCodec(
            algorithms=("HS256",),
            verification_key=SECRET,
            previous_verification_keys=[OTHER_SECRET],
            signing_key=SECRET,
            issuer=ISSUER,
        )

        def prepared_again(self: HMACAlgorithm, key: str | bytes) -> bytes:
            raise AssertionError("a secret the ring checked was prepared again")

        monkeypatch.setattr(HMACAlgorithm, "prepare_key", prepared_again)
        assert codec.verify(codec.encode(CLAIMS)) == CLAIMS
        assert codec.verify(hs256(claims_dict(), secret=OTHER_SECRET)) == CLAIMS
        with pytest.raises(InvalidToken):  # the key still decides: a third secret is refused
            codec.verify(hs256(claims_dict(), secret=SECRET + "-but-not-quite"))

    def test_any_other_key_is_prepared_in_full(self) -> None:
        algorithm = _KnownSecretsHMAC("HS256", [SECRET.encode()])

        assert algorithm.prepare_key(SECRET.encode()) == SECRET.encode()
        assert algorithm.prepare_key(OTHER_SECRET) == OTHER_SECRET.encode()
        with pytest.raises(jwt.InvalidKeyError):
            algorithm.prepare_key(pem_public(rsa_key()))
