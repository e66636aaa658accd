"""The spec's own curl examples, host swapped, against the real service on Postgres and Redis."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.servers import unavailable
from tests.live_server import REPO, SERVER_ENV, LiveServer, live_server

SPEC = REPO / "docs" / "spec-api-v2-logout.txt"
SPEC_HOST = "https://api.thesouledstore.com"
SPEC_TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..."


def spec_curl_examples(spec: Path = SPEC) -> dict[str, str]:
    """Each `curl ...` example of the spec, by endpoint path: continuation lines and quoted
    multi-line bodies included (a command ends where its quotes balance)."""
    examples: dict[str, str] = {}
    lines = iter(spec.read_text().splitlines())
    for line in lines:
        if not line.startswith("curl "):
            continue
        command = line
        while command.endswith("\\") or not _balanced(command):
            command += "\n" + next(lines)
        path = re.search(re.escape(SPEC_HOST) + r"(\S+)", command)
        assert path is not None
        examples[path.group(1)] = command
    return examples


def _balanced(command: str) -> bool:
    try:
        shlex.split(command)
    except ValueError:
        return False
    return True


@pytest.fixture(scope="module")
def server(postgres_url: str, redis_url: str) -> Iterator[LiveServer]:
    if shutil.which("curl") is None:
        unavailable("curl is not installed")
    with live_server({"DATABASE_URL": postgres_url, "REDIS_URL": redis_url}) as running:
        yield running


def run_example(server: LiveServer, command: str, token: str = "") -> tuple[int, dict[str, str]]:
    command = (
        command.replace(SPEC_HOST, server.base_url)
        .replace(SPEC_TOKEN, token)
        .replace("your-app-id", SERVER_ENV["APP_ID"])
        .replace("your-app-secret-key", SERVER_ENV["APP_KEY"])
    )
    argv = [*shlex.split(command.replace("\\\n", " ")), "-s", "-w", "\n%{http_code}"]
    assert argv[0] == "curl"
    output = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=30).stdout
    body, _, status = output.rpartition("\n")
    return int(status), json.loads(body)


def issue(server: LiveServer, user_id: int = 12345) -> str:
    issued = subprocess.run(
        [
            "curl",
            "-s",
            "-X",
            "POST",
            f"{server.base_url}/api/v2/internal/tokens",
            "-H",
            "Content-Type: application/json",
            "-d",
            json.dumps(
                {
                    "user_id": user_id,
                    "app_id": SERVER_ENV["APP_ID"],
                    "app_key": SERVER_ENV["APP_KEY"],
                }
            ),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    return str(json.loads(issued)["token"])


def test_the_spec_has_the_three_examples() -> None:
    assert set(spec_curl_examples()) == {
        "/api/v2/logout",
        "/api/v2/logout-all-device",
        "/api/v2/lgt-all",
    }


def test_logout_example(server: LiveServer) -> None:
    example = spec_curl_examples()["/api/v2/logout"]
    token = issue(server)
    assert run_example(server, example, token) == (200, {"message": "Successfully Logged Out."})
    assert run_example(server, example, token) == (401, {"title": "Unauthorized"})


def test_logout_all_device_example(server: LiveServer) -> None:
    example = spec_curl_examples()["/api/v2/logout-all-device"]
    first, second = issue(server, 777), issue(server, 777)
    assert run_example(server, example, first) == (
        200,
        {"message": "Successfully Logged Out From All Device."},
    )
    assert run_example(server, example, second) == (401, {"title": "Unauthorized"})


def test_lgt_all_example(server: LiveServer) -> None:
    token = issue(server, 12345)
    example = spec_curl_examples()["/api/v2/lgt-all"]
    assert run_example(server, example) == (
        200,
        {"message": "Successfully Logged Out From All Device."},
    )
    logout = spec_curl_examples()["/api/v2/logout"]
    assert run_example(server, logout, token) == (401, {"title": "Unauthorized"})
