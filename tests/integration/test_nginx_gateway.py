"""client → nginx (docs/nginx-gateway.conf) → verify → an echoing upstream, on Postgres + Redis."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from revocation.adapters.jwt_codec import PyJWTCodec
from revocation.domain.model import Claims, TokenKey
from tests.integration.nginx_gateway import EchoUpstream, echo_upstream, nginx
from tests.live_server import SERVER_ENV, LiveServer, free_port, live_server
from tests.random_refs import random_user_id

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

UNAUTHORIZED = b'{"title":"Unauthorized"}'
UNAVAILABLE = b'{"title":"Service Unavailable"}'
CREDENTIALS = {"app_id": SERVER_ENV["APP_ID"], "app_key": SERVER_ENV["APP_KEY"]}
# A client's own identity headers, in two spellings; the upstream must see only the verified ones.
FORGED = [
    ("X-User-Id", "1"),
    ("x-user-id", "2"),
    ("X_User_Id", "3"),
    ("X-Token-Jti", "forged"),
    ("X-Token-Issuer", "forged"),
]


@dataclass(frozen=True)
class Gateway:
    url: str
    service: LiveServer
    upstream: EchoUpstream

    def issue(self, user_id: int) -> dict[str, str]:
        """A logged token, straight from the service (issuance is not behind the gateway)."""
        body = {"user_id": user_id, **CREDENTIALS}
        response = httpx.post(f"{self.service.base_url}/api/v2/internal/tokens", json=body)
        assert response.status_code == 200, response.text
        return {key: str(value) for key, value in response.json().items()}

    def request(self, method: str, path: str, token: str | None = None) -> httpx.Response:
        headers = [*FORGED, *([("Authorization", f"Bearer {token}")] if token else [])]
        return httpx.request(method, f"{self.url}{path}", headers=headers, content=b'{"n": 1}')


@contextlib.contextmanager
def gateway(
    directory: Path, postgres_url: str, redis_url: str, *, migrate: bool = True
) -> Iterator[Gateway]:
    env = {"DATABASE_URL": postgres_url, "REDIS_URL": redis_url}
    with live_server(env, migrate=migrate) as service, echo_upstream() as upstream:
        service_port = int(service.base_url.rsplit(":", 1)[1])
        backend_port = int(upstream.url.rsplit(":", 1)[1])
        with nginx(directory, service_port, backend_port) as url:
            yield Gateway(url=url, service=service, upstream=upstream)


@pytest.fixture(scope="module")
def shared_gateway(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str, redis_url: str
) -> Iterator[Gateway]:
    with gateway(tmp_path_factory.mktemp("nginx"), postgres_url, redis_url) as running:
        yield running


def assert_stopped_at_nginx(response: httpx.Response, upstream: EchoUpstream, hits: int) -> None:
    assert response.status_code == 401
    assert response.content == UNAUTHORIZED
    assert response.headers["content-type"] == "application/json"
    assert response.headers.get_list("www-authenticate") == ["Bearer"]
    assert len(upstream.hits) == hits, "a refused request reached the upstream"


class TestNginxGateway:
    @pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
    def test_a_live_token_reaches_the_upstream_as_its_user(
        self, shared_gateway: Gateway, method: str
    ) -> None:
        user_id = random_user_id()
        issued = shared_gateway.issue(user_id)
        response = shared_gateway.request(method, "/orders?page=2", issued["token"])
        assert response.status_code == 200
        hit = shared_gateway.upstream.hits[-1]
        assert (hit.method, hit.path) == (method, "/orders?page=2")
        assert hit.values("x-user-id") == [str(user_id)]  # the forged values are gone
        assert hit.values("x-token-jti") == [issued["jti"]]
        assert hit.values("x-token-expires-at") == [issued["expires_at"]]
        assert hit.values("x-token-issuer") == [SERVER_ENV["JWT_ISSUER"]]
        assert hit.values("x_user_id") == []
        assert hit.body == b'{"n": 1}'  # the body went upstream; the check never took it

    def test_no_token_is_stopped_at_nginx_with_the_spec_body(self, shared_gateway: Gateway) -> None:
        hits = len(shared_gateway.upstream.hits)
        response = shared_gateway.request("GET", "/orders")
        assert_stopped_at_nginx(response, shared_gateway.upstream, hits)

    def test_after_logout_the_token_is_stopped_at_nginx(self, shared_gateway: Gateway) -> None:
        token = shared_gateway.issue(random_user_id())["token"]
        assert shared_gateway.request("GET", "/orders", token).status_code == 200
        logout = shared_gateway.request("POST", "/api/v2/logout", token)
        assert logout.json() == {"message": "Successfully Logged Out."}
        hits = len(shared_gateway.upstream.hits)
        for method in ("GET", "POST"):
            response = shared_gateway.request(method, "/orders", token)
            assert_stopped_at_nginx(response, shared_gateway.upstream, hits)

    def test_after_logout_all_device_every_token_is_stopped(self, shared_gateway: Gateway) -> None:
        user_id = random_user_id()
        phone, laptop = (shared_gateway.issue(user_id)["token"] for _ in range(2))
        bystander = shared_gateway.issue(random_user_id())["token"]
        logout = shared_gateway.request("POST", "/api/v2/logout-all-device", phone)
        assert logout.status_code == 200, logout.text
        hits = len(shared_gateway.upstream.hits)
        for token in (phone, laptop):
            response = shared_gateway.request("GET", "/orders", token)
            assert_stopped_at_nginx(response, shared_gateway.upstream, hits)
        assert shared_gateway.request("GET", "/orders", bystander).status_code == 200

    def test_after_lgt_all_every_token_is_stopped(self, shared_gateway: Gateway) -> None:
        user_id = random_user_id()
        token = shared_gateway.issue(user_id)["token"]
        body = {"user_id": user_id, **CREDENTIALS}
        lgt_all = httpx.post(f"{shared_gateway.url}/api/v2/lgt-all", json=body)
        assert lgt_all.status_code == 200, lgt_all.text
        hits = len(shared_gateway.upstream.hits)
        response = shared_gateway.request("GET", "/orders", token)
        assert_stopped_at_nginx(response, shared_gateway.upstream, hits)


def test_service_down_nginx_answers_503_and_lets_nothing_through(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    with gateway(tmp_path, postgres_url, redis_url) as running:
        token = running.issue(random_user_id())["token"]
        assert running.request("GET", "/orders", token).status_code == 200
        running.service.process.terminate()
        running.service.process.wait(timeout=10)
        hits = len(running.upstream.hits)
        for method in ("GET", "POST"):
            response = running.request(method, "/orders", token)
            assert (response.status_code, response.content) == (503, UNAVAILABLE)
        assert len(running.upstream.hits) == hits, "a request went through without a check"


def test_database_down_nginx_answers_503_and_lets_nothing_through(
    tmp_path: Path, redis_url: str
) -> None:
    """The service is up but cannot decide: its 503 is no approval either."""
    nobody_listens = f"postgresql://postgres@127.0.0.1:{free_port()}/down"
    with gateway(tmp_path, nobody_listens, redis_url, migrate=False) as running:
        token = signed_token(random_user_id())
        direct = httpx.get(f"{running.service.base_url}/api/v2/auth/verify", headers=bearer(token))
        assert direct.status_code == 503  # what nginx is shown below
        response = running.request("GET", "/orders", token)
        assert (response.status_code, response.content) == (503, UNAVAILABLE)
        assert running.upstream.hits == []


def signed_token(user_id: int) -> str:
    """A well-signed token that nobody could log: issuing needs the database."""
    codec = PyJWTCodec(
        algorithms=["HS256"],
        verification_key=SERVER_ENV["JWT_SECRET"],
        signing_key=SERVER_ENV["JWT_SECRET"],
        issuer=SERVER_ENV["JWT_ISSUER"],
    )
    now = int(time.time())
    return codec.encode(Claims(TokenKey(SERVER_ENV["JWT_ISSUER"], "jti-1"), user_id, now, now + 60))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
