"""RS256 and ES256 deployments, wired from settings: issue, use and log out a token."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from revocation.entrypoints.app import create_app
from tests.app_factory import TEST_ENV, in_memory_container
from tests.keys import pem_pair


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
