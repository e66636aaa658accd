"""PyJWT behind the TokenCodec port: algorithms from settings, claim types checked by hand."""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Sequence
from typing import Any

import jwt
from jwt.algorithms import HMACAlgorithm
from jwt.types import Options

from revocation.adapters.jwt_keys import REFUSED, KeyRing
from revocation.adapters.jwt_segments import SegmentsInC
from revocation.domain.errors import InvalidToken
from revocation.domain.model import Claims, TokenKey, parse_user_id
from revocation.domain.ports import TokenCodec

MAX_TEXT_CLAIM = 255  # `iss` and `jti` fit the token log's varchar(255)
MAX_NUMERIC_DATE = 253_402_300_799  # 9999-12-31T23:59:59Z: fits a datetime and a timestamp
_REQUIRED = ["exp", "iat", "jti", "sub"]


class PyJWTCodec:
    """The `TokenCodec` port on PyJWT; raises InvalidToken for any token it refuses.

    With public keys, every verification key is named by its thumbprint (`kid`), tokens it
    signs carry the signing key's, and `previous_verification_keys` keep verifying what older
    signing keys issued: a rotation leaves every unexpired token valid.
    """

    def __init__(
        self,
        *,
        algorithms: Sequence[str],
        verification_key: str | bytes,
        signing_key: str | bytes | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        leeway_seconds: int = 0,
        previous_verification_keys: Sequence[str | bytes] = (),
    ) -> None:
        if leeway_seconds < 0:
            raise ValueError("leeway_seconds must not be negative")
        self._algorithms = _allow_list(algorithms)
        self._keys = KeyRing(
            self._algorithms, [verification_key, *previous_verification_keys], signing_key
        )
        self.public_jwks = self._keys.public_jwks
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds
        required = _REQUIRED + ["iss"] * (issuer is not None) + ["aud"] * (audience is not None)
        # PyJWT >= 2.10 refuses a numeric `sub`, which tymon/jwt-auth sends: _claims checks it.
        self._verify_options: Options = {"require": required, "verify_sub": False}
        self._peek_options: Options = {"require": required, "verify_signature": False}
        self._jwt = _pyjwt_knowing(self._keys.checked_secrets(), self._algorithms)

    def peek(self, token: str) -> Claims:
        return _claims(self._decode(token, self._peek_options))

    def verify(self, token: str) -> Claims:
        return _claims(self._decode(token, self._verify_options))

    def encode(self, claims: Claims) -> str:
        if self._keys.signing is None:
            raise RuntimeError("this PyJWTCodec has no signing_key: it can only verify")
        payload: dict[str, Any] = {
            "sub": str(claims.user_id),
            "jti": claims.key.jti,
            "iat": claims.issued_at,
            "exp": claims.expires_at,
        }
        if claims.key.issuer:
            payload["iss"] = claims.key.issuer
        if self._audience is not None:
            payload["aud"] = self._audience
        return self._jwt.encode(
            payload,
            self._keys.signing,
            algorithm=self._algorithms[0],
            headers=self._keys.kid_header,
        )

    def _decode(self, token: str, options: Options) -> dict[str, Any]:
        try:
            verifies = options.get("verify_signature", True)
            keys = self._keys.candidates(token) if verifies else self._keys.verification[:1]
            for key in keys[:-1]:  # older keys, while a rotation keeps them
                with contextlib.suppress(jwt.InvalidSignatureError):
                    return self._decode_with(token, key, options)
            return self._decode_with(token, keys[-1], options)
        except REFUSED as error:
            raise InvalidToken(f"{type(error).__name__}: {error}") from error

    def _decode_with(self, token: str, key: Any, options: Options) -> dict[str, Any]:
        return self._jwt.decode(
            token,
            key,
            algorithms=self._algorithms,  # never the token header's choice
            options=options,
            issuer=self._issuer,
            audience=self._audience,
            leeway=self._leeway,
        )


def _pyjwt_knowing(secrets: Collection[bytes], algorithms: Sequence[str]) -> jwt.PyJWT:
    """PyJWT, its segments checked in C (`SegmentsInC`), its HMAC algorithms knowing the
    secrets the KeyRing already checked.

    PyJWT prepares the key again at every decode; for an HMAC secret that means probing it as
    PEM, SSH, DER and JSON (about a fifth of a decode, and a token this process has not met
    pays one decode per check). A secret the ring checked at start-up is that same secret now:
    it is used as it is; any other key still goes through PyJWT's whole preparation.
    """
    pyjwt = jwt.PyJWT(options={"enforce_minimum_key_length": True})
    pyjwt._jws = SegmentsInC(options=pyjwt._jws.options)
    if secrets:
        # PyJWT keeps its signature layer, and the algorithms it verifies with, in `_jws`:
        # replacing an algorithm there is `PyJWS.register_algorithm`'s documented use.
        for name in algorithms:
            pyjwt._jws.unregister_algorithm(name)
            pyjwt._jws.register_algorithm(name, _KnownSecretsHMAC(name, secrets))
    return pyjwt


class _KnownSecretsHMAC(HMACAlgorithm):
    """An HMAC algorithm that skips the preparation of the secrets it was given, already
    prepared (and refused if unfit) by the same algorithm."""

    def __init__(self, name: str, secrets: Collection[bytes]) -> None:
        default = jwt.get_algorithm_by_name(name)
        if not isinstance(default, HMACAlgorithm):  # the ring holds secrets only for HS*
            raise TypeError(f"{name} is not an HMAC algorithm")
        super().__init__(default.hash_alg)
        self._known = frozenset(secrets)

    def prepare_key(self, key: str | bytes) -> bytes:
        if isinstance(key, bytes) and key in self._known:
            return key
        return super().prepare_key(key)


def _allow_list(algorithms: Sequence[str]) -> list[str]:
    if isinstance(algorithms, str) or not algorithms:
        raise ValueError("algorithms must be a non-empty list of names, e.g. ['HS256']")
    if "none" in algorithms:
        raise ValueError('the "none" algorithm accepts unsigned tokens: refused')
    families = set()
    for name in algorithms:
        try:
            families.add(isinstance(jwt.get_algorithm_by_name(name), HMACAlgorithm))
        except NotImplementedError:
            raise ValueError(f"unknown JWT algorithm {name!r}") from None
    if len(families) > 1:
        raise ValueError(
            "algorithms mix HMAC (HS*) with public-key ones; that allows key confusion"
        )
    return list(algorithms)


def _claims(payload: dict[str, Any]) -> Claims:
    """Our own type checks: PyJWT only checks that the required claims are present."""
    user_id = parse_user_id(payload["sub"], canonical=True)
    if user_id is None:
        raise InvalidToken("sub is not a user id (an integer 1..2^63-1, or its decimal string)")
    return Claims(
        key=TokenKey(issuer=_text(payload.get("iss", ""), "iss"), jti=_text(payload["jti"], "jti")),
        user_id=user_id,
        issued_at=_numeric_date(payload["iat"], "iat"),
        expires_at=_numeric_date(payload["exp"], "exp"),
    )


def _text(value: object, claim: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT_CLAIM or "\x00" in value:
        raise InvalidToken(f"{claim} must be a string of at most {MAX_TEXT_CLAIM} characters")
    if claim == "jti" and not value:
        raise InvalidToken("jti must not be empty")
    try:
        value.encode("utf-8")  # JSON can carry lone surrogates; no database can store them
    except UnicodeEncodeError:
        raise InvalidToken(f"{claim} is not valid Unicode") from None
    return value


def _numeric_date(value: object, claim: str) -> int:
    # Whole seconds only: a float (legal in RFC 7519, sent by neither us nor tymon) is refused
    # rather than rounded, so the claim the blacklist and the log see is the one that was signed.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidToken(f"{claim} must be a whole number of seconds")
    if not 0 <= value <= MAX_NUMERIC_DATE:
        raise InvalidToken(f"{claim} is out of range")
    return value


_: type[TokenCodec] = PyJWTCodec
