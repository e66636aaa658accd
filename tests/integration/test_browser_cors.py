"""The spec's browser example (`logout()` with fetch) in a real headless Chromium.

The page comes from a second loopback origin, so the browser really sends a CORS preflight
for the POST with Authorization and Content-Type, exactly as a web app on its own domain would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.support.wait import WebDriverWait

from tests.integration.browser import headless_chromium, serve_pages
from tests.live_server import LiveServer, live_server
from tests.random_refs import random_user_id

ALLOWED_HOST, OTHER_HOST = "127.0.0.2", "127.0.0.3"  # both loopback, each its own origin

# The spec's "Example Client Implementation", verbatim but for the service's address.
SPEC_LOGOUT = """
async function logout() {
  const token = localStorage.getItem('access_token');

  try {
    const response = await fetch(
      API + '/api/v2/logout',
      {
        method: 'POST',
        headers: {
          'Authorization': `Bearer ${token}`,
          'Content-Type': 'application/json'
        }
      }
    );

    if (response.ok) {
      // Clear local data
      localStorage.removeItem('access_token');
      localStorage.removeItem('user_data');

      // Redirect to login
      window.location.href = '/login';
    }
  } catch (error) {
    console.error('Logout failed:', error);
  }
}
"""

# What the test asks the page to do, reporting back through selenium's async-script callback.
CALL = """
const [method, url, token, done] = arguments;
fetch(url, {method, headers: {
  'Authorization': `Bearer ${token}`, 'Content-Type': 'application/json'}})
  .then(async (r) => done({status: r.status, body: await r.text()}))
  .catch((error) => done({rejected: error.name}));
"""


API_FROM_QUERY = "const API = new URLSearchParams(location.search).get('api');"
PAGES = {
    "/": f"<!doctype html><title>app</title><script>{API_FROM_QUERY}{SPEC_LOGOUT}</script>",
    "/login": "<!doctype html><title>login</title>",
}


@pytest.fixture(scope="module")
def allowed_origin() -> Iterator[str]:
    with serve_pages(ALLOWED_HOST, PAGES) as origin:
        yield origin


@pytest.fixture(scope="module")
def other_origin() -> Iterator[str]:
    with serve_pages(OTHER_HOST, PAGES) as origin:
        yield origin


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, allowed_origin: str) -> Iterator[LiveServer]:
    database = tmp_path_factory.mktemp("browser") / "revocation.sqlite3"
    env = {"DATABASE_URL": f"sqlite:///{database}", "CORS_ALLOWED_ORIGINS": allowed_origin}
    with live_server(env) as running:
        yield running


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    with headless_chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver


def issue(server: LiveServer, user_id: int | None = None) -> str:
    body = {"user_id": user_id or random_user_id(), "device": "browser"}
    body |= {"app_id": server.env["APP_ID"], "app_key": server.env["APP_KEY"]}
    response = httpx.post(f"{server.base_url}/api/v2/internal/tokens", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def is_live(server: LiveServer, token: str) -> bool:
    headers = {"Authorization": f"Bearer {token}"}
    status = httpx.get(f"{server.base_url}/api/v2/sessions", headers=headers).status_code
    assert status in (200, 401)
    return status == 200


def call(
    browser: webdriver.Chrome,
    server: LiveServer,
    token: str,
    method: str = "POST",
    path: str = "/api/v2/logout",
) -> dict[str, Any]:
    """A fetch from the page's origin with the bearer token, as the page's own script would."""
    url = f"{server.base_url}{path}"
    result: dict[str, Any] = browser.execute_async_script(CALL, method, url, token)
    return result


def open_app(browser: webdriver.Chrome, origin: str, server: LiveServer, token: str) -> None:
    browser.get(f"{origin}/?{urlencode({'api': server.base_url})}")
    browser.execute_script("localStorage.setItem('access_token', arguments[0])", token)


class TestSpecLogoutInTheBrowser:
    def test_logs_out_from_an_allowed_origin_then_the_token_is_refused(
        self, server: LiveServer, browser: webdriver.Chrome, allowed_origin: str
    ) -> None:
        token = issue(server)
        open_app(browser, allowed_origin, server, token)

        browser.execute_script("logout()")

        # The spec's function redirects only when `response.ok`: the POST passed CORS.
        WebDriverWait(browser, 10).until(lambda b: b.current_url == f"{allowed_origin}/login")
        assert browser.execute_script("return localStorage.getItem('access_token')") is None
        assert not is_live(server, token)
        # Readable 401: even an error answer carries the CORS header the page needs.
        again = call(browser, server, token)
        assert again == {"status": 401, "body": '{"title":"Unauthorized"}'}

    def test_another_origin_is_blocked_by_the_browser_and_the_token_lives_on(
        self, server: LiveServer, browser: webdriver.Chrome, other_origin: str
    ) -> None:
        token = issue(server)
        open_app(browser, other_origin, server, token)

        browser.execute_async_script("logout().then(arguments[0])")

        assert browser.current_url.startswith(f"{other_origin}/?")  # no redirect
        stored = browser.execute_script("return localStorage.getItem('access_token')")
        assert stored == token
        assert call(browser, server, token) == {"rejected": "TypeError"}  # preflight refused
        assert is_live(server, token)  # the POST itself was never sent

    def test_an_account_page_lists_and_revokes_sessions(
        self, server: LiveServer, browser: webdriver.Chrome, allowed_origin: str
    ) -> None:
        user = random_user_id()
        here, phone = issue(server, user), issue(server, user)
        open_app(browser, allowed_origin, server, here)

        listed = call(browser, server, here, "GET", "/api/v2/sessions")
        sessions = json.loads(listed["body"])["sessions"]
        (other,) = [s for s in sessions if not s["current"]]
        revoked = call(browser, server, here, "DELETE", f"/api/v2/sessions/{other['id']}")

        assert listed["status"] == 200
        assert revoked == {"status": 200, "body": '{"message":"Session Revoked."}'}
        assert not is_live(server, phone)
        assert is_live(server, here)
