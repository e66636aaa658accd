"""The lock files pin, with hashes, every dependency pyproject.toml names: installs are the same
on every machine and a release upstream changes nothing until the lock is recompiled."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==(\S+)(?: ;[^\\]*)? \\$")


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: str) -> dict[str, str]:
    text = (REPO / "requirements" / lock).read_text()
    found = {}
    for entry in re.split(r"\n(?=\S)", text):
        first = entry.splitlines()[0]
        if match := PIN.match(first):
            assert "--hash=sha256:" in entry, f"{first} has no hash"
            found[normalised(match[1])] = match[2]
    return found


def declared(extra: str | None = None) -> set[str]:
    with (REPO / "pyproject.toml").open("rb") as file:
        project = tomllib.load(file)["project"]
    requirements = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return {normalised(re.split(r"[\[<>=;! ]", requirement)[0]) for requirement in requirements}


@pytest.mark.parametrize(("lock", "extra"), [("runtime.txt", None), ("dev.txt", "dev")])
def test_every_declared_dependency_is_pinned_with_hashes(lock: str, extra: str | None) -> None:
    assert declared(extra) <= set(pins(lock))


def test_the_runtime_set_has_no_test_tools() -> None:
    # httpx is also the web framework's own dependency; the others are only for tests.
    assert not (declared("dev") - {"httpx"}) & set(pins("runtime.txt"))


def test_the_dev_set_pins_the_runtime_set_to_the_same_versions() -> None:
    runtime, dev = pins("runtime.txt"), pins("dev.txt")
    assert {name: dev.get(name) for name in runtime} == runtime


def test_make_installs_from_the_locks_with_hashes_and_run_takes_the_runtime_set() -> None:
    makefile = (REPO / "Makefile").read_text()
    assert "--require-hashes -r requirements/runtime.txt" in makefile
    assert "--require-hashes -r requirements/dev.txt" in makefile
    assert re.search(r"^run: install-runtime\b", makefile, re.MULTILINE)
    assert re.search(r"^lint: install\b", makefile, re.MULTILINE)
