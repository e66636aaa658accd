"""The keys a PyJWTCodec verifies and signs with: parsed once (a bad key stops start-up, not
each request), public ones named by their thumbprint (`kid`) and published as JWKs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, get_args

import jwt
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from jwt.algorithms import HMACAlgorithm

from revocation.adapters.jwks import public_jwk

# Anything PyJWT raises, and what malformed input can make the standard library raise.
# ValueError covers UnicodeError, binascii.Error and json.JSONDecodeError.
REFUSED = (jwt.PyJWTError, ValueError, TypeError, RecursionError)


class KeyRing:
    """Verification keys (the current one first, then those a rotation keeps) and the signing
    key, whose public half must be among them or this service would refuse its own tokens."""

    def __init__(
        self,
        algorithms: Sequence[str],
        verification_keys: Sequence[str | bytes],
        signing_key: str | bytes | None,
    ) -> None:
        self.verification = [_public_key(algorithms, key) for key in verification_keys]
        hmac = isinstance(jwt.get_algorithm_by_name(algorithms[0]), HMACAlgorithm)
        # An HMAC secret is never published, nor named.
        self.public_jwks = [] if hmac else [public_jwk(k, algorithms[0]) for k in self.verification]
        self._by_kid = {
            jwk["kid"]: key for jwk, key in zip(self.public_jwks, self.verification, strict=False)
        }  # empty with HMAC
        self.signing = (
            None if signing_key is None else _prepare_key(algorithms[:1], signing_key, "signing")
        )
        self.kid_header = (
            None if hmac or self.signing is None else self._kid_of_signing(algorithms[0])
        )

    def _kid_of_signing(self, algorithm: str) -> dict[str, str]:
        assert self.signing is not None  # noqa: S101 - checked by the only caller
        kid = public_jwk(self.signing.public_key(), algorithm)["kid"]
        if kid not in self._by_kid:
            raise ValueError("signing_key's public key is not among the verification keys")
        return {"kid": kid}

    def checked_secrets(self) -> list[bytes]:
        """The HMAC secrets, prepared and checked here (none for public-key algorithms)."""
        return [key for key in [*self.verification, self.signing] if isinstance(key, bytes)]

    def candidates(self, token: str) -> list[Any]:
        """The key the token's `kid` names; else (no kid, or an issuer's own) each in turn."""
        if len(self.verification) == 1:
            return self.verification
        kid = jwt.get_unverified_header(token).get("kid")
        named = self._by_kid.get(kid) if isinstance(kid, str) else None
        return [named] if named is not None else self.verification


def _public_key(algorithms: Sequence[str], key: str | bytes) -> Any:
    prepared = _prepare_key(algorithms, key, "verification")
    if isinstance(prepared, get_args(PrivateKeyTypes)):
        raise ValueError("verification_key must be a public key, not a private one")
    return prepared


def _prepare_key(algorithms: Sequence[str], key: str | bytes, role: str) -> Any:
    prepared: Any = None  # a cryptography key object, or HMAC secret bytes
    for name in algorithms:
        algorithm = jwt.get_algorithm_by_name(name)
        try:
            prepared = algorithm.prepare_key(key)
        except REFUSED as error:
            raise ValueError(f"{role}_key is not a usable {name} key: {error}") from None
        if weakness := algorithm.check_key_length(prepared):
            raise ValueError(f"{role}_key is too weak for {name}: {weakness}")
    return prepared
