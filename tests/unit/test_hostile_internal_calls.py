"""Hostile bodies for lgt-all and token issuance: each gets the spec's 401 title, in rule order.

Rows are checked on a fresh app per row (the brute-force throttle would otherwise kick in), and
on both internal routes, which share one gate.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from revocation.entrypoints.app import create_app
from tests.app_factory import TEST_ENV, in_memory_container

NO_USER = b'{"title":"Kindly Provide User ID"}'
NO_CREDENTIALS = b'{"title":"Kindly Provide APP ID and APP KEY"}'
BAD_CREDENTIALS = b'{"title":"Kindly Provide Valid APP ID and APP KEY"}'
APP_ID, APP_KEY = TEST_ENV["APP_ID"], TEST_ENV["APP_KEY"]


def body(user_id: object = 7, app_id: object = APP_ID, app_key: object = APP_KEY) -> bytes:
    return json.dumps({"user_id": user_id, "app_id": app_id, "app_key": app_key}).encode()


CORPUS: dict[str, tuple[bytes, bytes]] = {
    "empty body": (b"", NO_USER),
    "not JSON": (b"user_id=7&app_id=x", NO_USER),
    "non-UTF-8 bytes": (b'{"user_id": 7, "app_id": "\xff\xfe"}', NO_USER),
    "JSON array": (b'[{"user_id": 7}]', NO_USER),
    "JSON string": (b'"7"', NO_USER),
    "JSON null": (b"null", NO_USER),
    "deeply nested": (b"[" * 3000 + b"]" * 3000, NO_USER),
    "truncated JSON": (body()[:-1], NO_USER),
    "user_id missing": (b'{"app_id": "a", "app_key": "b"}', NO_USER),
    "user_id null": (body(None), NO_USER),
    "user_id float": (body(7.0), NO_USER),
    "user_id float string": (body("7.0"), NO_USER),
    "user_id exponent": (b'{"user_id": 7e0}', NO_USER),
    "user_id negative": (body(-7), NO_USER),
    "user_id negative string": (body("-7"), NO_USER),
    "user_id zero": (body(0), NO_USER),
    "user_id 2^63": (body(2**63), NO_USER),
    "user_id huge": (body(10**40), NO_USER),
    "user_id huge string": (body("9" * 40), NO_USER),
    "user_id true": (body(True), NO_USER),
    "user_id object": (body({"id": 7}), NO_USER),
    "user_id list": (body([7]), NO_USER),
    "user_id with spaces": (body(" 7"), NO_USER),
    "user_id full-width digit": (body("\uff17"), NO_USER),
    "user_id Arabic digit": (body("\u0667"), NO_USER),
    "app_id missing": (b'{"user_id": 7, "app_key": "k"}', NO_CREDENTIALS),
    "app_key missing": (b'{"user_id": 7, "app_id": "a"}', NO_CREDENTIALS),
    "both null": (body(7, None, None), NO_CREDENTIALS),
    "app_id empty": (body(7, ""), NO_CREDENTIALS),
    "app_key a number": (body(7, APP_ID, 12345), NO_CREDENTIALS),
    "app_key a list": (body(7, APP_ID, [APP_KEY]), NO_CREDENTIALS),
    "wrong app_key": (body(7, APP_ID, "guess"), BAD_CREDENTIALS),
    "wrong app_id": (body(7, "other-app"), BAD_CREDENTIALS),
    "swapped pair": (body(7, APP_KEY, APP_ID), BAD_CREDENTIALS),
    "key one char short": (body(7, APP_ID, APP_KEY[:-1]), BAD_CREDENTIALS),
    "key one char long": (body(7, APP_ID, APP_KEY + "x"), BAD_CREDENTIALS),
    "key 10 kB long": (body(7, APP_ID, APP_KEY * 500), BAD_CREDENTIALS),
    "key with NUL": (body(7, APP_ID, APP_KEY + "\x00"), BAD_CREDENTIALS),
    "key upper-cased": (body(7, APP_ID, APP_KEY.upper()), BAD_CREDENTIALS),
    "non-ASCII key": (body(7, APP_ID, "clé-été-ключ"), BAD_CREDENTIALS),
    # msgspec refuses a lone surrogate escape: the body is not a JSON object at all, rule 1.
    "lone surrogate key": (body(7, APP_ID, "\ud800"), NO_USER),
    "non-ASCII app_id": (body(7, "läravel-app"), BAD_CREDENTIALS),
}


@pytest.fixture
async def client() -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=create_app(in_memory_container())) as test_client:
        yield test_client


@pytest.mark.parametrize("name", list(CORPUS))
@pytest.mark.parametrize("path", ["/api/v2/lgt-all", "/api/v2/internal/tokens"])
async def test_a_hostile_body_gets_the_first_failed_rule(
    client: AsyncTestClient[Litestar], path: str, name: str
) -> None:
    content, expected = CORPUS[name]
    response = await client.post(path, content=content)
    assert (response.status_code, response.content) == (401, expected)
    assert "retry-after" not in response.headers


@pytest.mark.parametrize("user_id", [7, "7", "007", 2**63 - 1, str(2**63 - 1)])
async def test_the_valid_neighbours_of_the_corpus_succeed(
    client: AsyncTestClient[Litestar], user_id: object
) -> None:
    response = await client.post("/api/v2/lgt-all", content=body(user_id))
    assert (response.status_code, response.content) == (
        200,
        b'{"message":"Successfully Logged Out From All Device."}',
    )


@pytest.mark.parametrize("path", ["/api/v2/lgt-all", "/api/v2/internal/tokens"])
async def test_an_oversized_body_is_a_documented_413_in_the_same_shape(
    client: AsyncTestClient[Litestar], path: str
) -> None:
    response = await client.post(path, content=body(7, APP_ID, "k" * 100_000))
    assert (response.status_code, response.content) == (
        413,
        b'{"title":"Request Entity Too Large"}',
    )
    schema = (await client.get("/schema/openapi.json")).json()
    assert "413" in schema["paths"][path]["post"]["responses"]
