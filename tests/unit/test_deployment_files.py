"""The Dockerfile and compose file point at routes and commands that exist (no Docker needed)."""

from __future__ import annotations

import re
from pathlib import Path

from litestar.testing import AsyncTestClient

from revocation.entrypoints.app import create_app
from revocation.entrypoints.cli import COMMANDS, _parser
from tests.app_factory import in_memory_container

REPO = Path(__file__).parents[2]


async def test_the_image_health_check_asks_a_public_route_that_answers_200() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    [path] = re.findall(r"HEALTHCHECK[^\n]*\n[^\n]*http://127\.0\.0\.1:8000(/[\w/]+)", dockerfile)
    async with AsyncTestClient(app=create_app(in_memory_container())) as client:
        response = await client.get(path)
    assert response.status_code == 200, response.text


def test_compose_migrates_before_the_app_starts() -> None:
    compose = (REPO / "docker-compose.yml").read_text()
    assert 'command: ["revocation", "migrate"]' in compose
    app = compose[compose.index("\n  app:") :]
    assert re.search(r"migrate:\s+condition: service_completed_successfully", app)
    for command in ("serve", "migrate"):
        assert _parser().parse_args([command]).name in COMMANDS  # the CLI knows both
