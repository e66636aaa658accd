"""The attacks of an adversarial review, replayed against real server processes.

Each class is one finding: how an attacker (or a burst of honest traffic) broke a promise, and
what the service must answer instead. Where a check of a token is involved, every way in is
attacked: the service's own routes, the gateway's verify route, and library mode (the example
orders app, a team's own API behind our middleware). Two instances share Postgres and Redis
where the attack depends on it (the brute-force brake).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from tests.forged_tokens import hs256, payload_of, unsigned
from tests.integration.throwaway import ThrowawayRedis, fresh_database, throwaway_redis
from tests.live_server import LIBRARY_APP, SERVER_ENV, LiveServer, live_app, live_server
from tests.random_refs import random_user_id
from tests.raw_http import RawResponse, burst, request_bytes

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

UNAUTHORIZED = b'{"title":"Unauthorized"}'
BAD_CREDENTIALS = b'{"title":"Kindly Provide Valid APP ID and APP KEY"}'
CREDENTIALS = {"app_id": SERVER_ENV["APP_ID"], "app_key": SERVER_ENV["APP_KEY"]}
MAX_FAILURES = 5


@dataclass(frozen=True)
class Logged:
    """A live server and the file its log lines (JSON) go to."""

    server: LiveServer
    log: Path

    @property
    def url(self) -> str:
        return self.server.base_url

    def entries(self) -> list[dict[str, object]]:
        lines = self.log.read_text(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def events(self, name: str) -> list[dict[str, object]]:
        return [entry for entry in self.entries() if entry.get("event") == name]


@contextlib.contextmanager
def logged_server(
    env: dict[str, str], log: Path, *, migrate: bool = True, factory: str | None = None
) -> Iterator[Logged]:
    with log.open("wb") as sink:
        if factory is None:
            with live_server(env, migrate=migrate, stderr=sink) as server:
                yield Logged(server, log)
        else:
            with live_app(factory, env, stderr=sink) as server:
                yield Logged(server, log)


def issue_token(url: str, user_id: int) -> str:
    response = httpx.post(f"{url}/api/v2/internal/tokens", json={"user_id": user_id, **CREDENTIALS})
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def bearer_line(token: str) -> list[tuple[str, str]]:
    return [("Authorization", f"Bearer {token}")]


def verify_status(url: str, token: str) -> int:
    return httpx.get(f"{url}/api/v2/auth/verify", headers=bearer(token)).status_code


def logout_status(url: str, token: str) -> int:
    return httpx.post(f"{url}/api/v2/logout", headers=bearer(token)).status_code


def random_peer() -> str:
    """An address of the documentation range (the brake's windows are shared through Redis),
    written as the server writes it back (no leading zeros)."""
    return f"2001:db8::{secrets.randbelow(0xFFFF) + 1:x}:{secrets.randbelow(0xFFFF) + 1:x}"


def metric(url: str, name: str, **labels: str) -> float:
    """One sample of the server's /metrics (0 when the series does not exist yet)."""
    text = httpx.get(f"{url}/metrics").text
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        sample, _, value = line.rpartition(" ")
        if sample == f"{name}{{{wanted}}}" or (not labels and sample == name):
            return float(value)
    return 0.0


# --- 1 and 2: the brute-force brake, under concurrency and behind a proxy -----------------


@pytest.fixture(scope="module")
def braked(
    postgres_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Logged]]:
    """Two instances behind a trusted proxy (the test is the proxy), sharing the brake."""
    logs = tmp_path_factory.mktemp("braked")
    env = {
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_url,
        "TRUSTED_PROXIES": "127.0.0.1",
        "LGT_ALL_MAX_FAILURES": str(MAX_FAILURES),
        "LGT_ALL_FAILURE_WINDOW_SECONDS": "300",
    }
    with (
        logged_server(env, logs / "first.log") as first,
        logged_server(env, logs / "second.log", migrate=False) as second,
    ):
        yield [first, second]


def forwarded(*lines: str) -> list[tuple[str, str]]:
    """X-Forwarded-For as separate header lines, the last one appended by our proxy."""
    return [("X-Forwarded-For", line) for line in lines]


async def lgt_all(
    client: httpx.AsyncClient, url: str, headers: list[tuple[str, str]], app_key: str
) -> httpx.Response:
    body = {"user_id": random_user_id(), "app_id": SERVER_ENV["APP_ID"], "app_key": app_key}
    return await client.post(f"{url}/api/v2/lgt-all", json=body, headers=headers)


def lgt_all_now(url: str, headers: list[tuple[str, str]], app_key: str) -> httpx.Response:
    async def once() -> httpx.Response:
        async with httpx.AsyncClient(timeout=30) as client:
            return await lgt_all(client, url, headers, app_key)

    return asyncio.run(once())


def compared(answer: httpx.Response | RawResponse) -> bool:
    """A wrong key that was compared: refused without Retry-After (a throttled one has it)."""
    body = answer.body if isinstance(answer, RawResponse) else answer.content
    return body == BAD_CREDENTIALS and "retry-after" not in answer.headers


class TestBruteForceBrake:
    BURST = 500

    async def test_a_burst_across_two_instances_compares_at_most_the_limit(
        self, braked: list[Logged]
    ) -> None:
        attacker, caller = random_peer(), random_peer()

        def call(peer: str, app_key: str) -> bytes:
            body = {"user_id": random_user_id(), "app_id": SERVER_ENV["APP_ID"], "app_key": app_key}
            headers = [*forwarded(peer), ("Content-Type", "application/json")]
            return request_bytes("POST", "/api/v2/lgt-all", headers, json.dumps(body).encode())

        guesses = [call(attacker, f"guess-{n}") for n in range(self.BURST)]
        honest = [call(caller, SERVER_ENV["APP_KEY"]) for _ in range(2 * MAX_FAILURES)]
        first, second = await asyncio.gather(
            burst(braked[0].url, guesses[::2] + honest[::2]),
            burst(braked[1].url, guesses[1::2] + honest[1::2]),
        )
        half, honest_half = self.BURST // 2, MAX_FAILURES
        refused = first[:half] + second[:half]
        accepted = first[half:] + second[half:]
        assert len(accepted) == 2 * honest_half
        assert {(a.status, a.body) for a in refused} == {(401, BAD_CREDENTIALS)}
        assert sum(map(compared, refused)) <= MAX_FAILURES
        # More honest calls in flight than the limit, from one address: none is throttled.
        assert [a.status for a in accepted] == [200] * len(accepted)

    def test_a_success_neither_counts_nor_erases_the_failures_before_it(
        self, braked: list[Logged]
    ) -> None:
        peer = forwarded(random_peer())
        first, second = (instance.url for instance in braked)
        for n in range(MAX_FAILURES - 1):
            assert compared(lgt_all_now(first, peer, f"guess-{n}"))
        for _ in range(MAX_FAILURES + 1):
            assert lgt_all_now(second, peer, SERVER_ENV["APP_KEY"]).status_code == 200
        assert compared(lgt_all_now(second, peer, "guess-last"))  # the limit's last guess
        throttled = lgt_all_now(first, peer, "guess-after")
        assert throttled.content == BAD_CREDENTIALS
        assert 0 < int(throttled.headers["retry-after"]) <= 300


class TestForwardedFor:
    def test_a_line_the_client_wrote_itself_does_not_choose_its_address(
        self, braked: list[Logged]
    ) -> None:
        real = random_peer()
        forged = [random_peer() for _ in range(MAX_FAILURES + 1)]
        url = braked[0].url
        for n in range(MAX_FAILURES):  # each with a new address of the client's choosing
            assert compared(lgt_all_now(url, forwarded(forged[n], real), f"guess-{n}"))
        locked = lgt_all_now(url, forwarded(forged[-1], real), "guess-again")
        assert "retry-after" in locked.headers
        time.sleep(0.2)  # the server writes its log line after answering
        peers = [e["peer"] for e in braked[0].events("security.internal_auth_failed")]
        assert peers.count(real) == MAX_FAILURES + 1
        assert not set(forged) & set(peers)  # the logs name who really called

    def test_a_forged_line_cannot_lock_out_the_address_it_names(self, braked: list[Logged]) -> None:
        victim, attacker = random_peer(), random_peer()
        url = braked[1].url
        for n in range(MAX_FAILURES + 1):
            lgt_all_now(url, forwarded(victim, attacker), f"guess-{n}")
        assert lgt_all_now(url, forwarded(victim), SERVER_ENV["APP_KEY"]).status_code == 200
        assert "retry-after" in lgt_all_now(url, forwarded(attacker), "guess").headers


# --- 3, 5, 6, 7, 8, 10: one service and one library-mode app on the same stores ----------


@dataclass(frozen=True)
class Stack:
    service: Logged
    library: Logged


ALLOWED_ORIGIN = "https://app.example"
# How each way in checks a token: (app, method, path).
WAYS = {
    "logout": ("service", "POST", "/api/v2/logout"),
    "sessions": ("service", "GET", "/api/v2/sessions"),
    "verify": ("service", "GET", "/api/v2/auth/verify"),
    "library": ("library", "GET", "/orders"),
}


@pytest.fixture(scope="module")
def stack(
    postgres_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("stack")
    env = {
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_url,
        "CORS_ALLOWED_ORIGINS": ALLOWED_ORIGIN,
        "REFUSAL_LOG_INTERVAL_SECONDS": "1",
    }
    with (
        logged_server(env, logs / "service.log") as service,
        logged_server(env, logs / "library.log", factory=LIBRARY_APP) as library,
    ):
        yield Stack(service, library)


def target(stack: Stack, way: str) -> tuple[Logged, str, str]:
    app, method, path = WAYS[way]
    return getattr(stack, app), method, path


def revoked_refusals(app: Logged) -> int:
    """Refusals the app classified as `revoked`, in its logs (one line each, or aggregated)."""
    total = 0
    for entry in app.entries():
        if entry.get("reason") != "revoked":
            continue
        if entry.get("event") == "token_rejected":
            total += 1
        elif entry.get("event") == "token_rejections":
            total += int(str(entry["count"]))
    return total


class TestNoOracleOnRevocationState:
    """A forged token must not tell anyone whether its victim logged out, nor when."""

    @pytest.mark.parametrize("way", WAYS)
    def test_a_forged_token_is_invalid_whatever_its_victims_state(
        self, stack: Stack, way: str
    ) -> None:
        app, method, path = target(stack, way)
        url = stack.service.url
        victim = random_user_id()
        logged_out = issue_token(url, victim)
        assert httpx.post(f"{url}/api/v2/logout", headers=bearer(logged_out)).status_code == 200
        before_logout_all = int(time.time()) - 2
        lgt = httpx.post(f"{url}/api/v2/lgt-all", json={"user_id": victim, **CREDENTIALS})
        assert lgt.status_code == 200
        claims = payload_of(logged_out)
        older = {**claims, "jti": secrets.token_urlsafe(16), "iat": before_logout_all}
        forgeries = [
            unsigned(claims),  # the jti of a blacklisted token
            hs256(claims, "a-key-that-is-not-the-servers-but-is-long-enough"),
            unsigned(older),  # issued before the victim's logout-all
            hs256(older, "a-key-that-is-not-the-servers-but-is-long-enough"),
        ]
        revoked_metric = "revocation_token_rejections_total"
        revoked_before = metric(url, revoked_metric, reason="revoked")
        logged_before = revoked_refusals(app)
        for forgery in forgeries:
            answer = httpx.request(method, f"{app.url}{path}", headers=bearer(forgery))
            assert (answer.status_code, answer.content) == (401, UNAUTHORIZED)
        time.sleep(1.5)  # one aggregation interval, and the answer's log line
        assert metric(url, revoked_metric, reason="revoked") == revoked_before
        assert revoked_refusals(app) == logged_before


class TestVerifyRoute:
    METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
    PREFLIGHTS: tuple[dict[str, str], ...] = (
        {},
        {"Access-Control-Request-Method": "GET"},
        {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
    )

    def test_nothing_but_a_live_token_gets_a_2xx_whatever_the_cors_headers(
        self, stack: Stack
    ) -> None:
        url = stack.service.url
        revoked = issue_token(url, random_user_id())
        assert httpx.post(f"{url}/api/v2/logout", headers=bearer(revoked)).status_code == 200
        answers = {}
        with httpx.Client(base_url=url) as client:
            for method in self.METHODS:
                for origin in (None, ALLOWED_ORIGIN, "https://elsewhere.example"):
                    for preflight in self.PREFLIGHTS:
                        for token in (None, revoked, "garbage"):
                            for path in ("/api/v2/auth/verify", "/api/v2/auth/verify/orders/7"):
                                headers = {**preflight, **({"Origin": origin} if origin else {})}
                                if token:
                                    headers.update(bearer(token))
                                key = (method, origin, str(preflight), token and token[:8], path)
                                status = client.request(method, path, headers=headers).status_code
                                answers[key] = status
        assert {key: status for key, status in answers.items() if status != 401} == {}

    def test_a_live_token_is_checked_for_options_too(self, stack: Stack) -> None:
        user_id = random_user_id()
        token = issue_token(stack.service.url, user_id)
        headers = {
            **bearer(token),
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Method": "GET",
        }
        answer = httpx.options(f"{stack.service.url}/api/v2/auth/verify", headers=headers)
        assert (answer.status_code, answer.headers["x-user-id"]) == (200, str(user_id))


class TestIssuanceInput:
    BAD_DEVICES = (
        "\u0000",
        "laptop\u0000",
        "bell\u0007",
        "line\nbreak",
        "\ud800",  # a lone surrogate: no database can store it
        "x" * 256,
        42,
        True,
        ["laptop"],
        {"name": "laptop"},
    )

    def test_a_bad_device_label_gets_a_clear_4xx_and_logs_no_error(self, stack: Stack) -> None:
        url = stack.service.url
        for device in self.BAD_DEVICES:
            body = {"user_id": random_user_id(), "device": device, **CREDENTIALS}
            # Escaped JSON: a lone surrogate travels as "\ud800", as any client may send it.
            answer = httpx.post(f"{url}/api/v2/internal/tokens", content=json.dumps(body))
            assert 400 <= answer.status_code < 500, (device, answer.status_code)
            assert list(answer.json()) == ["title"]
        good = {"user_id": random_user_id(), "device": "Jane's phone 📱", **CREDENTIALS}
        assert httpx.post(f"{url}/api/v2/internal/tokens", json=good).status_code == 200
        time.sleep(0.2)
        assert [e for e in stack.service.entries() if e["level"] == "ERROR"] == []


class TestSessionIds:
    def test_ids_are_opaque_stable_and_reveal_no_count(self, stack: Stack) -> None:
        url = stack.service.url
        user, other = random_user_id(), random_user_id()
        tokens = [issue_token(url, user) for _ in range(3)]
        strangers = issue_token(url, other)

        def ids(token: str) -> list[str]:
            answer = httpx.get(f"{url}/api/v2/sessions", headers=bearer(token))
            return [session["id"] for session in answer.json()["sessions"]]

        listed = ids(tokens[0])
        assert len(listed) == 3
        assert ids(tokens[1]) == listed  # stable
        for session_id in listed:
            assert not session_id.isdigit()
            assert re.fullmatch(r"[A-Za-z0-9_-]{22,}", session_id), session_id
        [foreign] = ids(strangers)
        gone = httpx.delete(f"{url}/api/v2/sessions/{foreign}", headers=bearer(tokens[0]))
        assert gone.status_code == 404
        mine = httpx.delete(f"{url}/api/v2/sessions/{listed[0]}", headers=bearer(tokens[0]))
        assert mine.status_code == 200  # the newest: another of the caller's sessions
        assert ids(tokens[0]) == listed[1:]


class TestRefusalLogs:
    def test_a_flood_of_refused_tokens_writes_a_bounded_number_of_lines(self, stack: Stack) -> None:
        service = stack.service
        revoked = issue_token(service.url, random_user_id())
        assert (
            httpx.post(f"{service.url}/api/v2/logout", headers=bearer(revoked)).status_code == 200
        )
        time.sleep(1.5)
        lines_before = len(service.log.read_text().splitlines())

        async def flood() -> None:
            tokens = [revoked] * 1000 + [f"garbage{n}" for n in range(1000)]
            requests = [request_bytes("GET", "/api/v2/auth/verify", bearer_line(t)) for t in tokens]
            answers = await burst(service.url, requests)
            assert {answer.status for answer in answers} == {401}

        started = time.monotonic()
        asyncio.run(flood())
        elapsed = time.monotonic() - started
        time.sleep(1.5)  # the last interval's summary
        written = [json.loads(line) for line in service.log.read_text().splitlines()[lines_before:]]
        # One summary per reason per interval, whatever the flood's size.
        assert len(written) <= 2 * (math.ceil(elapsed) + 2)
        summaries = [e for e in written if e.get("event") == "token_rejections"]
        assert sum(int(str(e["count"])) for e in summaries if e["reason"] == "revoked") >= 1000
        assert sum(int(str(e["count"])) for e in summaries if e["reason"] == "invalid") >= 1000
        assert all(re.fullmatch(r"[0-9a-f]{32}", str(e["example_request_id"])) for e in summaries)


class TestAuthorizationHeaders:
    @pytest.mark.parametrize("way", WAYS)
    def test_two_authorization_headers_are_refused(self, stack: Stack, way: str) -> None:
        app, method, path = target(stack, way)
        token = issue_token(stack.service.url, random_user_id())
        live = f"Bearer {token}"
        for lines in ([live, "Bearer garbage"], ["Bearer garbage", live], [live, live]):
            headers = [("Authorization", line) for line in lines]
            answer = httpx.request(method, f"{app.url}{path}", headers=headers)
            assert (answer.status_code, answer.content) == (401, UNAUTHORIZED), lines
        assert httpx.request(method, f"{app.url}{path}", headers=bearer(token)).status_code == 200


# --- 4: a jti shared by two users' tokens ----------------------------------------------------


def repairs_done(service: Logged) -> int:
    return sum(
        1
        for entry in service.entries()
        if str(entry.get("message", "")).startswith("blacklist repaired")
        and "complete: True" in str(entry["message"])
    )


def wait_for_repairs(service: Logged, count: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while repairs_done(service) < count:
        assert time.monotonic() < deadline, f"no repair number {count} within {timeout} s"
        time.sleep(0.1)


class TestJtiSharedAcrossUsers:
    @pytest.fixture
    def fault_redis(self) -> Iterator[ThrowawayRedis]:
        with throwaway_redis() as server:
            yield server

    def test_a_logout_blocks_the_pair_durably_even_when_another_user_logged_it(
        self, postgres_url: str, fault_redis: ThrowawayRedis, tmp_path: Path
    ) -> None:
        env = {
            "DATABASE_URL": postgres_url,
            "REDIS_URL": fault_redis.url,
            "TOKEN_CHECK": "not-blocked",
            "BLACKLIST_REPAIR_INTERVAL_SECONDS": "1",
        }
        with logged_server(env, tmp_path / "service.log") as service:
            wait_for_repairs(service, 1)
            logged = issue_token(service.url, random_user_id())
            # The same (iss, jti) signed for another user: an issuer's bug, not a forgery.
            twin = hs256(
                {**payload_of(logged), "sub": str(random_user_id())}, SERVER_ENV["JWT_SECRET"]
            )

            def status(token: str) -> int:
                return httpx.get(
                    f"{service.url}/api/v2/auth/verify", headers=bearer(token)
                ).status_code

            assert status(twin) == 200
            assert (
                httpx.post(f"{service.url}/api/v2/logout", headers=bearer(twin)).status_code == 200
            )
            assert (status(twin), status(logged)) == (401, 401)
            with redis.Redis(port=fault_redis.port) as side_door:
                side_door.flushall()
            wait_for_repairs(service, 2)
            assert (status(twin), status(logged)) == (401, 401)


# --- 9: a burst of honest traffic on one healthy instance ------------------------------------


class TestBurst:
    LOGOUTS, CHECKED_TOKENS = 400, 1000

    @pytest.fixture
    def database_url(self, postgres_url: str) -> Iterator[str]:
        """A database of its own: the start-up repair pushes only this test's tokens, however
        many the shared database holds by now."""
        with fresh_database(postgres_url) as url:
            yield url

    async def test_400_logouts_and_2000_checks_at_once_are_all_answered_right(
        self, database_url: str, redis_url: str, tmp_path: Path
    ) -> None:
        env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url}
        with logged_server(env, tmp_path / "service.log") as service:
            wait_for_repairs(service, 1)
            async with httpx.AsyncClient(base_url=service.url, timeout=60) as client:
                issuing = asyncio.Semaphore(16)

                async def issue() -> str:
                    async with issuing:
                        body = {"user_id": random_user_id(), **CREDENTIALS}
                        answer = await client.post("/api/v2/internal/tokens", json=body)
                    return str(answer.json()["token"])

                tokens = await asyncio.gather(
                    *(issue() for _ in range(self.LOGOUTS + self.CHECKED_TOKENS))
                )
            leaving, staying = tokens[: self.LOGOUTS], tokens[self.LOGOUTS :]
            requests = [request_bytes("POST", "/api/v2/logout", bearer_line(t)) for t in leaving]
            checks = [request_bytes("GET", "/api/v2/auth/verify", bearer_line(t)) for t in staying]
            entries_before = len(service.entries())
            answers = await burst(service.url, requests + checks * 2)
            assert [a.status for a in answers] == [200] * len(answers)
            await asyncio.sleep(0.5)  # the last answers' log lines
            after = service.entries()[entries_before:]
            assert [e for e in after if e.get("event") == "blacklist_unavailable"] == []
            assert [e for e in after if "repair" in str(e.get("message"))] == []
            assert [e for e in after if e["level"] in ("WARNING", "ERROR")] == []


# --- 10: a foreign issuer's clock ------------------------------------------------------------


class TestUnloggedTokenClockSkew:
    SKEW = 30

    def test_the_skew_widens_the_dead_zone_for_unlogged_tokens_only(
        self, postgres_url: str, redis_url: str, tmp_path: Path
    ) -> None:
        env = {
            "DATABASE_URL": postgres_url,
            "REDIS_URL": redis_url,
            "TOKEN_CHECK": "not-blocked",
            "UNLOGGED_IAT_SKEW_SECONDS": str(self.SKEW),
            "JWT_LEEWAY_SECONDS": "60",  # a foreign iat up to a minute ahead is accepted at all
        }
        with logged_server(env, tmp_path / "service.log") as service:
            user, second = random_user_id(), -1
            while second < 0:  # the watermark's whole second, known when the call took < 1 s
                started = time.time()
                body = {"user_id": user, **CREDENTIALS}
                assert httpx.post(f"{service.url}/api/v2/lgt-all", json=body).status_code == 200
                if math.floor(started) == math.floor(time.time()):
                    second = math.floor(started)

            def foreign(iat: int) -> str:
                claims = {"sub": user, "jti": secrets.token_urlsafe(16), "iss": "live-tests"}
                token = {**claims, "iat": iat, "exp": iat + 3600}
                return hs256(token, SERVER_ENV["JWT_SECRET"])

            def status(token: str) -> int:
                return httpx.get(
                    f"{service.url}/api/v2/auth/verify", headers=bearer(token)
                ).status_code

            assert status(foreign(second + self.SKEW)) == 401  # within the skew: dead
            assert status(foreign(second + self.SKEW + 1)) == 200
            assert status(issue_token(service.url, user)) == 200  # logged: the precise rule
