"""Hostile bytes on the wire, through the real `revocation serve` on Postgres and Redis.

What a test client cannot send: a megabyte header, bytes that are not UTF-8, control
characters. Every answer is the spec's, or the HTTP server's own refusal: never a 5xx.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest

from tests.live_server import SERVER_ENV, LiveServer, live_server
from tests.raw_http import RawResponse, raw_request

UNAUTHORIZED = b'{"title":"Unauthorized"}'
CREDENTIALS = {"app_id": SERVER_ENV["APP_ID"], "app_key": SERVER_ENV["APP_KEY"]}


@pytest.fixture(scope="module")
def server(postgres_url: str, redis_url: str) -> Iterator[LiveServer]:
    with live_server({"DATABASE_URL": postgres_url, "REDIS_URL": redis_url}) as running:
        yield running


def issue(server: LiveServer, user_id: int = 4242) -> str:
    request = urllib.request.Request(
        f"{server.base_url}/api/v2/internal/tokens",
        data=json.dumps({"user_id": user_id, **CREDENTIALS}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.load(response)["token"])


def logout(server: LiveServer, authorization: bytes) -> RawResponse:
    return raw_request(
        server.base_url, "POST", "/api/v2/logout", b"Authorization: " + authorization + b"\r\n"
    )


def test_a_real_token_sent_raw_logs_out(server: LiveServer) -> None:
    response = logout(server, b"Bearer " + issue(server).encode())
    assert (response.status, response.body) == (200, b'{"message":"Successfully Logged Out."}')


@pytest.mark.parametrize(
    "authorization",
    [
        b"Bearer \xff\xfe\x80",  # not UTF-8
        b"Bearer \xc3\xa9t\xc3\xa9",  # UTF-8, but not a b64token
        b"Bearer " + b"A" * 65_536,  # 64 kB: the app's own length check
        b"bearer    " + b"A" * 10,
    ],
)
def test_bad_header_bytes_get_the_spec_401(server: LiveServer, authorization: bytes) -> None:
    response = logout(server, authorization)
    assert (response.status, response.body) == (401, UNAUTHORIZED)
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_non_utf8_prefix_on_a_real_token_is_refused_and_revokes_nothing(
    server: LiveServer,
) -> None:
    token = issue(server).encode()
    assert (
        logout(server, b"Bearer \xff" + token).status,
        logout(server, b"\xffBearer " + token).status,
    ) == (401, 401)
    assert logout(server, b"Bearer " + token).status == 200


def test_a_one_megabyte_token_never_reaches_a_5xx(server: LiveServer) -> None:
    response = logout(server, b"Bearer " + b"A" * 1_048_576)
    # Either the HTTP server refuses the header block itself (granian: 431, empty body), or
    # the app's length check answers the spec's 401: both before any decoding or storage.
    assert (response.status, response.body) in {(431, b""), (401, UNAUTHORIZED)}


@pytest.mark.parametrize("authorization", [b"Bearer a\x00b", b"Bearer a\x01b"])
def test_control_characters_are_refused_by_the_http_server(
    server: LiveServer, authorization: bytes
) -> None:
    assert logout(server, authorization).status == 400


def test_a_non_utf8_lgt_all_body_is_the_first_rule(server: LiveServer) -> None:
    body = b'{"user_id": 7, "app_id": "\xff", "app_key": "\xfe"}'
    response = raw_request(server.base_url, "POST", "/api/v2/lgt-all", b"", body)
    assert (response.status, response.body) == (401, b'{"title":"Kindly Provide User ID"}')


def test_a_lying_content_length_is_413(server: LiveServer) -> None:
    response = raw_request(
        server.base_url, "POST", "/api/v2/lgt-all", b"", b"{}", content_length=100_000_000
    )
    assert (response.status, response.body) == (413, b'{"title":"Request Entity Too Large"}')
