"""The README's curl tour, run as it stands (in a temporary directory, on a free port) against
the service started by the recipe of `make run`; every answer must be the one the README shows."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.servers import unavailable
from tests.live_server import REPO, free_port, wait_until_up

README_URL = "http://127.0.0.1:8000"
MARK = "--- README step done ---"
# What a newcomer's shell has: none of the service's settings.
SETTINGS_PREFIXES = ("JWT_", "APP_", "DATABASE_", "REDIS_", "LOG_", "REVOCATION_", "HOST", "PORT")


@dataclass
class Step:
    command: str
    expected: list[str]


def tour() -> list[Step]:
    """The first sh block of "Five minutes with curl": commands, each with the comment lines
    right under it as its output (a comment after a blank line is a title)."""
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Five minutes with curl") :]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block is not None
    steps: list[Step] = []
    previous = "blank"
    for line in block[1].splitlines():
        kind = "blank" if not line.strip() else "comment" if line.startswith("#") else "command"
        if kind == "command" and previous != "command":
            steps.append(Step(line, []))
        elif kind == "command":
            steps[-1].command += "\n" + line
        elif kind == "comment" and previous in ("command", "output"):
            steps[-1].expected.append(line.removeprefix("# ").removeprefix("#"))
            kind = "output"
        previous = kind
    return steps


def make_run_recipe() -> list[str]:
    """The commands of the Makefile's `run` target, on this test run's virtualenv."""
    makefile = (REPO / "Makefile").read_text()
    recipe = re.search(r"^run:[^\n]*\n((?:\t[^\n]*\n)+)", makefile, re.MULTILINE)
    assert recipe is not None
    bin_dir = str(Path(sys.executable).parent)
    return [line.strip().replace("$(VENV)/bin", bin_dir) for line in recipe[1].splitlines()]


@pytest.fixture
def service(tmp_path: Path) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS_PREFIXES)}
    env["PORT"] = str(free_port())
    *setup, serve = make_run_recipe()
    for command in setup:
        subprocess.run(command, shell=True, cwd=tmp_path, env=env, check=True, timeout=60)  # noqa: S602
    server = subprocess.Popen(serve, shell=True, cwd=tmp_path, env=env, start_new_session=True)  # noqa: S602
    base_url = f"http://127.0.0.1:{env['PORT']}"
    try:
        wait_until_up(base_url, server)
        yield base_url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)


def test_the_tour_parses_into_steps_with_answers() -> None:
    steps = tour()
    assert len([step for step in steps if step.expected]) >= 8
    assert any("/api/v2/sessions" in step.command for step in steps if step.expected)


def test_every_answer_is_the_one_the_readme_shows(service: str, tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        unavailable("curl runs the README's tour")
    steps = tour()
    script = "".join(
        f"{step.command.replace(README_URL, service)}\necho; echo '{MARK}'\n" for step in steps
    )
    result = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    outputs = result.stdout.split(f"{MARK}\n")
    assert len(outputs) == len(steps) + 1, result.stderr
    for step, output in zip(steps, outputs, strict=False):
        assert output.strip().splitlines() == step.expected, (step.command, result.stderr)
