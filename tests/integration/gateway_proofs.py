"""The proofs every gateway recipe must pass, in front of the real service on Postgres and Redis
and an echoing upstream: subclass `GatewayProofs` as `TestXGateway` and say how to start it."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from revocation.adapters.jwt_codec import PyJWTCodec
from revocation.domain.model import Claims, TokenKey
from tests.integration.gateways import EchoUpstream, echo_upstream
from tests.live_server import SERVER_ENV, LiveServer, free_port, live_server
from tests.random_refs import random_user_id

UNAUTHORIZED = b'{"title":"Unauthorized"}'
CREDENTIALS = {"app_id": SERVER_ENV["APP_ID"], "app_key": SERVER_ENV["APP_KEY"]}
# A client's own identity headers, in two spellings; the upstream must see only the verified ones.
FORGED = [
    ("X-User-Id", "1"),
    ("x-user-id", "2"),
    ("X_User_Id", "3"),
    ("X-Token-Jti", "forged"),
    ("X-Token-Issuer", "forged"),
]
StartGateway = contextlib.AbstractContextManager[str]


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

    def used(self, token: str) -> str:
        """The token, after one request it passed with: a gateway that caches the answer
        would now let it through after its revocation."""
        assert self.request("GET", "/orders", token).status_code == 200
        return token


class GatewayProofs:
    """A live token reaches the upstream as its user with its body intact; forged identity
    headers never do; revoked, logged-out-everywhere and lgt-all'ed tokens are stopped at the
    gateway with the upstream's hit count unchanged; with the service down (or unable to
    decide) nothing reaches the upstream."""

    methods: ClassVar[tuple[str, ...]] = ("GET", "POST", "DELETE")
    service_env: ClassVar[dict[str, str]] = {}

    def start(self, directory: Path, service_port: int, backend_port: int) -> StartGateway:
        raise NotImplementedError

    def assert_refused(self, response: httpx.Response) -> None:
        """How this gateway refuses a token the service refused: by default it passes on the
        service's own 401, body and `WWW-Authenticate: Bearer`."""
        assert response.status_code == 401
        assert response.content == UNAUTHORIZED
        assert response.headers.get_list("www-authenticate") == ["Bearer"]

    def assert_unavailable(self, response: httpx.Response) -> None:
        """What it answers when the service is down or cannot decide: anything but a 2xx."""
        assert response.status_code >= 500

    @contextlib.contextmanager
    def gateway(
        self, directory: Path, postgres_url: str, redis_url: str, *, migrate: bool = True
    ) -> Iterator[Gateway]:
        env = {"DATABASE_URL": postgres_url, "REDIS_URL": redis_url, **self.service_env}
        with live_server(env, migrate=migrate) as service, echo_upstream() as upstream:
            service_port = int(service.base_url.rsplit(":", 1)[1])
            with self.start(directory, service_port, upstream.port) as url:
                yield Gateway(url=url, service=service, upstream=upstream)

    @pytest.fixture(scope="class")
    @classmethod
    def shared_gateway(
        cls, tmp_path_factory: pytest.TempPathFactory, postgres_url: str, redis_url: str
    ) -> Iterator[Gateway]:
        directory = tmp_path_factory.mktemp("gateway")
        with cls().gateway(directory, postgres_url, redis_url) as running:
            yield running

    def assert_stopped(self, response: httpx.Response, gateway: Gateway, hits: int) -> None:
        self.assert_refused(response)
        assert len(gateway.upstream.hits) == hits, "a refused request reached the upstream"

    def test_a_live_token_reaches_the_upstream_as_its_user(self, shared_gateway: Gateway) -> None:
        user_id = random_user_id()
        issued = shared_gateway.issue(user_id)
        for method in self.methods:
            response = shared_gateway.request(method, "/orders?page=2", issued["token"])
            assert response.status_code == 200, response.text
            hit = shared_gateway.upstream.hits[-1]
            assert (hit.method, hit.path) == (method, "/orders?page=2")
            assert hit.values("x-user-id") == [str(user_id)]  # the forged values are gone
            assert hit.values("x-token-jti") == [issued["jti"]]
            assert hit.values("x-token-expires-at") == [issued["expires_at"]]
            assert hit.values("x-token-issuer") == [SERVER_ENV["JWT_ISSUER"]]
            assert hit.values("x_user_id") == []
            assert hit.body == b'{"n": 1}'  # the body went upstream; the check never took it

    def test_no_token_is_stopped_at_the_gateway(self, shared_gateway: Gateway) -> None:
        hits = len(shared_gateway.upstream.hits)
        self.assert_stopped(shared_gateway.request("GET", "/orders"), shared_gateway, hits)

    def test_after_logout_the_token_is_stopped(self, shared_gateway: Gateway) -> None:
        token = shared_gateway.used(shared_gateway.issue(random_user_id())["token"])
        logout = shared_gateway.request("POST", "/api/v2/logout", token)
        assert logout.json() == {"message": "Successfully Logged Out."}
        hits = len(shared_gateway.upstream.hits)
        for method in ("GET", "POST"):
            self.assert_stopped(
                shared_gateway.request(method, "/orders", token), shared_gateway, hits
            )

    def test_after_logout_all_device_every_token_is_stopped(self, shared_gateway: Gateway) -> None:
        user_id = random_user_id()
        phone, laptop = (
            shared_gateway.used(shared_gateway.issue(user_id)["token"]) for _ in range(2)
        )
        bystander = shared_gateway.issue(random_user_id())["token"]
        logout = shared_gateway.request("POST", "/api/v2/logout-all-device", phone)
        assert logout.status_code == 200, logout.text
        hits = len(shared_gateway.upstream.hits)
        for token in (phone, laptop):
            self.assert_stopped(
                shared_gateway.request("GET", "/orders", token), shared_gateway, hits
            )
        assert shared_gateway.request("GET", "/orders", bystander).status_code == 200

    def test_after_lgt_all_every_token_is_stopped(self, shared_gateway: Gateway) -> None:
        user_id = random_user_id()
        token = shared_gateway.used(shared_gateway.issue(user_id)["token"])
        body = {"user_id": str(user_id), **CREDENTIALS}  # a PHP form's numeric string
        lgt_all = httpx.post(f"{shared_gateway.url}/api/v2/lgt-all", json=body)
        assert lgt_all.status_code == 200, lgt_all.text
        hits = len(shared_gateway.upstream.hits)
        self.assert_stopped(shared_gateway.request("GET", "/orders", token), shared_gateway, hits)

    def test_service_down_lets_nothing_through(
        self, tmp_path: Path, postgres_url: str, redis_url: str
    ) -> None:
        with self.gateway(tmp_path, postgres_url, redis_url) as running:
            token = running.used(running.issue(random_user_id())["token"])
            running.service.process.terminate()
            running.service.process.wait(timeout=10)
            hits = len(running.upstream.hits)
            for method in ("GET", "POST"):
                self.assert_unavailable(running.request(method, "/orders", token))
            assert len(running.upstream.hits) == hits, "a request went through without a check"

    def test_database_down_lets_nothing_through(self, tmp_path: Path, redis_url: str) -> None:
        """The service is up but cannot decide: its 503 is no approval either."""
        nobody_listens = f"postgresql://postgres@127.0.0.1:{free_port()}/down"
        with self.gateway(tmp_path, nobody_listens, redis_url, migrate=False) as running:
            token = signed_token(random_user_id())
            self.assert_unavailable(running.request("GET", "/orders", token))
            assert running.upstream.hits == []


def signed_token(user_id: int) -> str:
    """A well-signed token that nobody could log: issuing needs the database."""
    secret, issuer = SERVER_ENV["JWT_SECRET"], SERVER_ENV["JWT_ISSUER"]
    codec = PyJWTCodec(
        algorithms=["HS256"], verification_key=secret, signing_key=secret, issuer=issuer
    )
    now = int(time.time())
    return codec.encode(Claims(TokenKey(issuer, "jti-1"), user_id, now, now + 60))
