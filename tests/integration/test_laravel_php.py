"""The PHP in examples/laravel/ (docs/laravel.md), run by php-cli against `revocation serve` on
Postgres and Redis: issuance, lgt-all and its retries, and the middleware guarding a plain PHP
app and a Laravel 8 app (Debian's php-laravel-framework)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.flaky_front import FlakyFront
from tests.integration.gateways import gateway_process, program
from tests.integration.service_calls import logout, verify
from tests.live_server import REPO, SERVER_ENV, LiveServer, free_port, live_server
from tests.random_refs import random_user_id

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

EXAMPLE = REPO / "examples" / "laravel"
LARAVEL = EXAMPLE / "laravel8"
LARAVEL_FRAMEWORK = Path("/usr/share/php/Illuminate/Foundation/Application.php")


@pytest.fixture(scope="module")
def server(postgres_url: str, redis_url: str) -> Iterator[LiveServer]:
    with live_server({"DATABASE_URL": postgres_url, "REDIS_URL": redis_url}) as running:
        yield running


@pytest.fixture
def service(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url) as client:
        yield client


def php_env(url: str, app_key: str = SERVER_ENV["APP_KEY"]) -> dict[str, str]:
    return {
        **os.environ,
        "REVOCATION_URL": url,
        "REVOCATION_APP_ID": SERVER_ENV["APP_ID"],
        "REVOCATION_APP_KEY": app_key,
    }


def client(
    url: str, *args: str, app_key: str = SERVER_ENV["APP_KEY"]
) -> subprocess.CompletedProcess[str]:
    """`php bin/revocation.php ...`: the client as a PHP app calls it."""
    php = program("php", install="apt-get install php-cli php-curl")
    command = [php, str(EXAMPLE / "bin" / "revocation.php"), *args]
    return subprocess.run(
        command, env=php_env(url, app_key), capture_output=True, text=True, timeout=30, check=False
    )


def issued_by_php(url: str, user_id: str, *flags: str) -> dict[str, str]:
    result = client(url, "issue", user_id, *flags)
    assert result.returncode == 0, result.stderr
    issued: dict[str, str] = httpx.Response(200, content=result.stdout).json()
    return issued


@pytest.mark.parametrize(("padding", "flags"), [("", ("--int",)), ("00", ())])
def test_php_issues_a_token_for_an_int_or_a_numeric_string(
    server: LiveServer, service: httpx.Client, padding: str, flags: tuple[str, ...]
) -> None:
    """A PHP int, or a form's string of digits with leading zeros ("0042" is user 42)."""
    user_id = random_user_id() % 10**15 + 1  # room for the padding in 19 digits
    issued = issued_by_php(server.base_url, f"{padding}{user_id}", *flags)
    assert issued["token_type"] == "Bearer"
    answer = verify(service, issued["token"])
    assert (answer.status_code, answer.headers["x-user-id"]) == (200, str(user_id))


def test_php_lgt_all_logs_the_user_out_everywhere(
    server: LiveServer, service: httpx.Client
) -> None:
    user_id = random_user_id()
    token = issued_by_php(server.base_url, str(user_id))["token"]
    assert verify(service, token).status_code == 200
    result = client(server.base_url, "lgt-all", str(user_id))  # a numeric string, as forms send
    assert result.returncode == 0, result.stderr
    assert verify(service, token).status_code == 401


@pytest.mark.parametrize("failure", ["503", "drop"])
def test_php_lgt_all_retries_a_503_and_a_dropped_connection(
    server: LiveServer, service: httpx.Client, failure: str
) -> None:
    user_id = random_user_id()
    token = issued_by_php(server.base_url, str(user_id))["token"]
    with FlakyFront(server.base_url, failure, failures=2).running() as front:
        result = client(front.url, "lgt-all", str(user_id))
    assert result.returncode == 0, result.stderr
    assert front.attempts == 3
    assert verify(service, token).status_code == 401


def test_php_gives_up_after_three_503s(server: LiveServer) -> None:
    with FlakyFront(server.base_url, "503", failures=99).running() as front:
        result = client(front.url, "lgt-all", "7")
    assert (result.returncode, result.stderr.strip()) == (1, "revocation: HTTP 503")
    assert front.attempts == 3


def test_php_never_retries_a_401(server: LiveServer) -> None:
    with FlakyFront(server.base_url, "503", failures=0).running() as front:
        result = client(front.url, "lgt-all", "7", app_key="wrong")
    assert result.returncode == 1
    assert result.stderr.strip() == "revocation: the app id and key do not match the service"
    assert front.attempts == 1


# The plain PHP app, and a Laravel 8 app (Debian's php-laravel-framework) whose kernel runs
# the same guard as route middleware.
FRONTS = {"plain": EXAMPLE / "public" / "index.php", "laravel": LARAVEL / "public" / "index.php"}


@contextlib.contextmanager
def php_app(directory: Path, service_url: str, guard: str, front: str) -> Iterator[str]:
    """A front controller in PHP's own web server: every route guarded."""
    php = program("php", install="apt-get install php-cli php-curl")
    if front == "laravel" and not LARAVEL_FRAMEWORK.exists():
        program("laravel", install="apt-get install php-laravel-framework")
    port = free_port()
    env = {
        **php_env(service_url),
        "REVOCATION_GUARD": guard,
        # Laravel writes its discovery caches here rather than into the repository.
        "APP_PACKAGES_CACHE": str(directory / "packages.php"),
        "APP_SERVICES_CACHE": str(directory / "services.php"),
    }
    command = [php, "-S", f"127.0.0.1:{port}", str(FRONTS[front])]
    with gateway_process(command, port, directory / "php.log", env) as url:
        yield url


@pytest.mark.parametrize("front", ["plain", "laravel"])
@pytest.mark.parametrize("guard", ["verify", "introspect"])
def test_the_php_middleware_lets_only_live_tokens_through(
    tmp_path: Path, server: LiveServer, service: httpx.Client, guard: str, front: str
) -> None:
    user_id = random_user_id()
    token = issued_by_php(server.base_url, str(user_id))["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    with php_app(tmp_path, server.base_url, guard, front) as app:
        live = httpx.post(f"{app}/orders?page=2", headers=bearer, content=b"{}")
        assert live.json() == {"user_id": str(user_id), "path": "/orders?page=2", "body": "{}"}
        assert logout(service, token).status_code == 200
        refused = httpx.get(f"{app}/orders", headers=bearer)
        assert (refused.status_code, refused.json()) == (401, {"title": "Unauthorized"})
        assert refused.headers["www-authenticate"] == "Bearer"
        assert httpx.get(f"{app}/orders").status_code == 401
    nobody = f"http://127.0.0.1:{free_port()}"
    with php_app(tmp_path, nobody, guard, front) as app:  # the service down
        down = httpx.get(f"{app}/orders", headers=bearer)
        assert (down.status_code, down.json()) == (503, {"title": "Service Unavailable"})
