"""The gateway recipes users copy from docs/gateway.md are the files the integration tests run."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.live_server import REPO

DOCS = REPO / "docs"
RECIPES = [
    ("nginx-gateway.conf", "nginx"),
    ("traefik-gateway.yml", "yaml"),
    ("caddy-gateway.Caddyfile", "caddyfile"),
    ("apache-gateway.conf", "apache"),
    ("envoy-gateway.yaml", "yaml"),
]


@pytest.mark.parametrize(("recipe", "language"), RECIPES)
def test_the_guide_shows_each_recipe_verbatim(recipe: str, language: str) -> None:
    guide = (DOCS / "gateway.md").read_text()
    assert f"```{language}\n{(DOCS / recipe).read_text()}```" in guide


def test_the_envoy_recipe_defines_every_cluster_it_names() -> None:
    """Not run anywhere (no Envoy here): at least complete, every cluster defined."""
    config = yaml.safe_load((DOCS / "envoy-gateway.yaml").read_text())
    defined = {cluster["name"] for cluster in config["static_resources"]["clusters"]}
    named = set(_cluster_names(config["static_resources"]["listeners"]))
    assert named == {"revocation", "backend"}
    assert named <= defined


def _cluster_names(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["cluster"]] if isinstance(node.get("cluster"), str) else []
        return found + [name for value in node.values() for name in _cluster_names(value)]
    if isinstance(node, list):
        return [name for item in node for name in _cluster_names(item)]
    return []
