"""The wheel installs one import root, `revocation`, made of every package under src/."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).parents[2]
SRC = REPO / "src"


def listed_packages() -> set[str]:
    with (REPO / "pyproject.toml").open("rb") as file:
        setuptools = tomllib.load(file)["tool"]["setuptools"]
    assert setuptools["package-dir"] == {"revocation": "src"}
    return set(setuptools["packages"])


def packages_under_src() -> set[str]:
    return {
        ".".join(["revocation", *init.parent.relative_to(SRC).parts])
        for init in SRC.rglob("__init__.py")
    }


def test_every_package_under_src_is_listed_for_the_wheel() -> None:
    assert listed_packages() == packages_under_src()


def test_the_type_checker_sees_src_under_the_import_name() -> None:
    link = REPO / ".mypy-path" / "revocation"
    assert link.is_symlink()
    assert link.resolve() == SRC.resolve()
