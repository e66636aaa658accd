"""A key rotation on the real service (Postgres + Redis): tokens of the old signing key keep
working, revoked ones stay dead, and PyJWT's JWKS client verifies both from `jwks_uri`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx
import jwt
import pytest

from tests.integration.service_calls import issue_token, logout, verify
from tests.keys import pem_pair
from tests.live_server import SERVER_ENV, live_server
from tests.random_refs import random_user_id

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

ALGORITHM = "ES256"


@contextlib.contextmanager
def service(
    postgres_url: str, redis_url: str, signing: tuple[str, str], *older: str
) -> Iterator[httpx.Client]:
    env = {
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_url,
        "JWT_ALGORITHMS": ALGORITHM,
        "JWT_SECRET": "",
        "JWT_PRIVATE_KEY": signing[0],
        "JWT_PUBLIC_KEY": signing[1],
        "JWT_VERIFICATION_KEYS": "\n".join(older),
    }
    with live_server(env) as server, httpx.Client(base_url=server.base_url) as client:
        yield client


def verified_by_jwks(client: httpx.Client, token: str) -> str:
    """What an API that trusts only the published keys would read: PyJWT's own JWKS client."""
    jwks_uri = client.get("/.well-known/oauth-authorization-server").json()["jwks_uri"]
    key = jwt.PyJWKClient(jwks_uri, cache_keys=False).get_signing_key_from_jwt(token)
    claims = jwt.decode(token, key, algorithms=[ALGORITHM], issuer=SERVER_ENV["JWT_ISSUER"])
    return str(claims["sub"])


def test_a_rotation_keeps_live_tokens_live_and_revoked_ones_dead(
    postgres_url: str, redis_url: str
) -> None:
    old, new = pem_pair(ALGORITHM), pem_pair(ALGORITHM)
    user_id, everywhere = random_user_id(), random_user_id()
    with service(postgres_url, redis_url, old) as before:
        live, revoked = issue_token(before, user_id), issue_token(before, user_id)
        logged_out_all = issue_token(before, everywhere)
        assert logout(before, revoked).status_code == 200
        body = {
            "user_id": everywhere,
            "app_id": SERVER_ENV["APP_ID"],
            "app_key": SERVER_ENV["APP_KEY"],
        }
        assert before.post("/api/v2/lgt-all", json=body).status_code == 200
    with service(postgres_url, redis_url, new, old[1]) as rotated:
        assert verify(rotated, live).status_code == 200
        assert verify(rotated, revoked).status_code == 401
        assert verify(rotated, logged_out_all).status_code == 401
        fresh = issue_token(rotated, user_id)
        kids = [key["kid"] for key in rotated.get("/.well-known/jwks.json").json()["keys"]]
        assert jwt.get_unverified_header(fresh)["kid"] == kids[0]
        assert jwt.get_unverified_header(live)["kid"] == kids[1]
        assert verified_by_jwks(rotated, live) == verified_by_jwks(rotated, fresh) == str(user_id)
    with service(postgres_url, redis_url, new) as retired:
        assert verify(retired, live).status_code == 401  # the old key is gone
        assert verify(retired, fresh).status_code == 200
