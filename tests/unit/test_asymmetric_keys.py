"""RS256 and ES256 deployments, wired from settings: issue, use and log out a token."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from litestar.testing import AsyncTestClient

from revocation.entrypoints.app import create_app
from tests.app_factory import TEST_ENV, in_memory_container


def pem_pair(algorithm: str) -> tuple[str, str]:
    key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if algorithm.startswith("RS")
        else ec.generate_private_key(ec.SECP256R1())
    )
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
async def test_an_asymmetric_deployment_issues_checks_and_revokes(algorithm: str) -> None:
    private, public = pem_pair(algorithm)
    container = in_memory_container(
        JWT_ALGORITHMS=algorithm, JWT_PRIVATE_KEY=private, JWT_PUBLIC_KEY=public, JWT_SECRET=""
    )
    credentials = {"app_id": TEST_ENV["APP_ID"], "app_key": TEST_ENV["APP_KEY"]}
    async with AsyncTestClient(app=create_app(container)) as client:
        issued = await client.post("/api/v2/internal/tokens", json={"user_id": 3, **credentials})
        token = issued.json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert (await client.post("/api/v2/logout", headers=headers)).status_code == 200
        assert (await client.post("/api/v2/logout", headers=headers)).status_code == 401
