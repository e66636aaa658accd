"""docker-compose.yml agrees with the settings and the image (no Docker engine needed: the file
is read as data; `docker compose config` itself is not run here)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from revocation.entrypoints.settings import Settings

REPO = Path(__file__).parents[2]


def compose() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    return services


def app_settings() -> Settings:
    environment = {k: str(v) for k, v in compose()["app"]["environment"].items()}
    return Settings.from_env(environment)  # starts: every setting valid, nothing missing


def test_the_services_are_the_database_the_cache_the_migration_and_the_app() -> None:
    assert set(compose()) == {"postgres", "redis", "migrate", "app"}
    assert compose()["migrate"]["environment"] == compose()["app"]["environment"]


def test_the_database_url_names_the_postgres_service_and_its_account() -> None:
    postgres = compose()["postgres"]
    url = urlsplit(app_settings().database_url)
    env = postgres["environment"]
    assert (url.scheme, url.hostname, url.port) == ("postgresql", "postgres", 5432)
    assert (url.username, url.password) == (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"])
    assert url.path == f"/{env['POSTGRES_DB']}"
    check = " ".join(postgres["healthcheck"]["test"])
    assert f"-U {env['POSTGRES_USER']} -d {env['POSTGRES_DB']}" in check


def test_the_redis_url_names_the_redis_service_which_is_health_checked() -> None:
    url = urlsplit(app_settings().redis_url or "")
    assert (url.hostname, url.port or 6379) == ("redis", 6379)
    assert "redis-cli" in compose()["redis"]["healthcheck"]["test"]


def test_the_published_port_is_the_one_the_image_serves_and_checks_on_loopback() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    [served] = re.findall(r'CMD \[.*"--port", "(\d+)"\]', dockerfile)
    [checked] = re.findall(r"http://127\.0\.0\.1:(\d+)/health/ready", dockerfile)
    [published] = compose()["app"]["ports"]
    host, host_port, container_port = published.split(":")
    assert container_port == served == checked == re.findall(r"EXPOSE (\d+)", dockerfile)[0]
    # The compose file uses the development secrets: never reachable from another machine.
    assert app_settings().environment == "development"
    assert host == "127.0.0.1"
    assert host_port == "8000"


def test_the_app_starts_after_the_migration_and_a_healthy_cache() -> None:
    app, migrate = compose()["app"]["depends_on"], compose()["migrate"]["depends_on"]
    assert app["migrate"]["condition"] == "service_completed_successfully"
    assert app["redis"]["condition"] == "service_healthy"
    assert migrate["postgres"]["condition"] == "service_healthy"
    assert compose()["migrate"]["command"] == ["revocation", "migrate"]


def test_the_image_installs_from_the_lock_on_a_pinned_base_as_a_non_root_user() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    [base] = re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE)
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim-\w+", base), base  # an exact version
    assert "--require-hashes -r requirements/runtime.txt" in dockerfile
    assert "--no-deps ." in dockerfile  # the package itself adds nothing unlocked
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.MULTILINE)


def test_the_build_context_leaves_out_venvs_databases_and_git() -> None:
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert ignored[ignored.index("*") :].count("*") == 1  # everything, then what COPY needs
    for needed in ("requirements/runtime.txt", "pyproject.toml", "src/", "piccolo_conf.py"):
        assert f"!{needed}" in ignored
