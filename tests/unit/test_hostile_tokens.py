"""Hostile bearer tokens, each against the real app: 401 {"title": "Unauthorized"}, never more.

Each forged token starts from a REAL logged token (same jti, same user) and changes one thing,
so the row fails if that one check regresses; the unchanged re-signed token is the control.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from revocation.entrypoints.app import create_app
from revocation.entrypoints.http.verify import VERIFY_PATH
from tests.app_factory import TEST_ENV, in_memory_container
from tests.forged_tokens import flip_last_char, hs256, payload_of, unsigned
from tests.keys import pem_pair

UNAUTHORIZED = b'{"title":"Unauthorized"}'
CREDENTIALS = {"app_id": TEST_ENV["APP_ID"], "app_key": TEST_ENV["APP_KEY"]}
SECRET = TEST_ENV["JWT_SECRET"]
ISSUER, AUDIENCE = "hostile-tests", "revocation"
NOW = int(time.time())


@dataclass(frozen=True)
class Real:
    token: str
    claims: dict[str, Any]

    def resigned(self, **changes: Any) -> str:
        """The real claims with `changes` (None removes a claim), signed with the real secret."""
        claims = {**self.claims, **changes}
        return hs256({k: v for k, v in claims.items() if v is not None}, SECRET)


Forge = Callable[[Real], str]  # the full Authorization header value
CORPUS: dict[str, Forge] = {
    "empty header": lambda real: "",
    "scheme only": lambda real: "Bearer",
    "empty token": lambda real: "Bearer ",
    "only spaces": lambda real: "Bearer      ",
    "wrong scheme": lambda real: f"Basic {real.token}",
    "token scheme": lambda real: f"Token {real.token}",
    "no scheme": lambda real: real.token,
    "tab separator": lambda real: f"Bearer\t{real.token}",
    "two tokens": lambda real: f"Bearer {real.token} {real.token}",
    "token of 1 MB": lambda real: f"Bearer {real.token}{'A' * 1_048_576}",
    "not a JWT": lambda real: "Bearer not-a-jwt",
    "two segments": lambda real: "Bearer " + ".".join(real.token.split(".")[:2]),
    "four segments": lambda real: f"Bearer {real.token}.AAAA",
    "alg none": lambda real: f"Bearer {unsigned(real.claims)}",
    "alg none, signature kept": lambda real: (
        "Bearer " + ".".join([unsigned(real.claims).split(".")[0], *real.token.split(".")[1:]])
    ),
    "tampered payload (other user)": lambda real: (
        "Bearer "
        + ".".join(
            [
                real.token.split(".")[0],
                hs256({**real.claims, "sub": "2"}, SECRET).split(".")[1],
                real.token.split(".")[2],
            ]
        )
    ),
    "tampered signature": lambda real: (
        "Bearer " + real.token[:-10] + ("B" if real.token[-10] == "A" else "A") + real.token[-9:]
    ),
    "signature removed": lambda real: "Bearer " + real.token.rsplit(".", 1)[0] + ".",
    "another secret": lambda real: (
        "Bearer " + hs256(real.claims, "another-secret-that-is-long-enough-for-hs256")
    ),
    "expired": lambda real: f"Bearer {real.resigned(exp=NOW - 3600)}",
    "nbf in the future": lambda real: f"Bearer {real.resigned(nbf=NOW + 3600)}",
    "iat in the future": lambda real: f"Bearer {real.resigned(iat=NOW + 3600)}",
    "missing sub": lambda real: f"Bearer {real.resigned(sub=None)}",
    "missing exp": lambda real: f"Bearer {real.resigned(exp=None)}",
    "missing jti": lambda real: f"Bearer {real.resigned(jti=None)}",
    "missing iat": lambda real: f"Bearer {real.resigned(iat=None)}",
    "sub of another user": lambda real: f"Bearer {real.resigned(sub='2')}",
    "sub not a number": lambda real: f"Bearer {real.resigned(sub='admin')}",
    "sub zero": lambda real: f"Bearer {real.resigned(sub=0)}",
    "exp as a string": lambda real: f"Bearer {real.resigned(exp=str(NOW + 60))}",
    "wrong iss": lambda real: f"Bearer {real.resigned(iss='evil')}",
    "missing iss": lambda real: f"Bearer {real.resigned(iss=None)}",
    "wrong aud": lambda real: f"Bearer {real.resigned(aud='other-api')}",
    "missing aud": lambda real: f"Bearer {real.resigned(aud=None)}",
    "unlogged jti": lambda real: f"Bearer {real.resigned(jti='never-issued')}",
    "last char edited": lambda real: f"Bearer {flip_last_char(real.token)}x",
}


@pytest.fixture
async def client() -> AsyncIterator[AsyncTestClient[Litestar]]:
    container = in_memory_container(JWT_ISSUER=ISSUER, JWT_AUDIENCE=AUDIENCE)
    async with AsyncTestClient(app=create_app(container)) as test_client:
        yield test_client


async def real_token(client: AsyncTestClient[Litestar]) -> Real:
    issued = await client.post("/api/v2/internal/tokens", json={"user_id": 1, **CREDENTIALS})
    token = issued.json()["token"]
    return Real(token, payload_of(token))


async def test_the_real_token_and_its_faithful_copy_are_accepted(
    client: AsyncTestClient[Litestar],
) -> None:
    real = await real_token(client)
    for token in (real.token, real.resigned()):
        response = await client.get(VERIFY_PATH, headers={"Authorization": f"Bearer {token}"})
        assert (response.status_code, response.headers["x-user-id"]) == (200, "1")
    several_spaces = await client.get(
        VERIFY_PATH, headers={"Authorization": f"Bearer   {real.token}"}
    )
    assert several_spaces.status_code == 200  # RFC 7235: 1*SP between scheme and token


@pytest.mark.parametrize("name", list(CORPUS))
@pytest.mark.parametrize("path", [VERIFY_PATH, "/api/v2/logout", "/api/v2/logout-all-device"])
async def test_a_hostile_token_gets_the_spec_401(
    client: AsyncTestClient[Litestar], name: str, path: str
) -> None:
    real = await real_token(client)
    method = "GET" if path == VERIFY_PATH else "POST"
    headers = {"Authorization": CORPUS[name](real)}
    response = await client.request(method, path, headers=headers)
    assert (response.status_code, response.content) == (401, UNAUTHORIZED)
    assert response.headers["www-authenticate"] == "Bearer"
    control = await client.get(VERIFY_PATH, headers={"Authorization": f"Bearer {real.token}"})
    assert control.status_code == 200  # the hostile request revoked nothing


async def test_no_authorization_header_and_non_utf8_bytes(
    client: AsyncTestClient[Litestar],
) -> None:
    real = await real_token(client)
    non_utf8 = [(b"Authorization", b"Bearer \xff\xfe" + real.token.encode())]
    for headers in ([], non_utf8):
        response = await client.post("/api/v2/logout", headers=headers)
        assert (response.status_code, response.content) == (401, UNAUTHORIZED)


async def test_hs256_signed_with_the_public_key_of_an_rs256_setup() -> None:
    private, public = pem_pair("RS256")
    env = {"JWT_ALGORITHMS": "RS256", "JWT_PRIVATE_KEY": private, "JWT_PUBLIC_KEY": public}
    container = in_memory_container(JWT_SECRET="", **env)
    async with AsyncTestClient(app=create_app(container)) as client:
        real = await real_token(client)
        for key in (public, public.strip(), public.encode()):
            forged = hs256(real.claims, key)
            response = await client.get(VERIFY_PATH, headers={"Authorization": f"Bearer {forged}"})
            assert (response.status_code, response.content) == (401, UNAUTHORIZED)
        control = await client.get(VERIFY_PATH, headers={"Authorization": f"Bearer {real.token}"})
        assert control.status_code == 200
