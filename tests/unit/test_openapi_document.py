"""The served OpenAPI document reads well: a summary and description per operation, stable
readable operationIds, the spec's bodies as examples, every header, the verify route once."""

from __future__ import annotations

import re
from typing import Any

import pytest

from revocation.entrypoints.app import create_app
from revocation.entrypoints.http.openapi_catalogue import CATALOGUE
from tests.app_factory import in_memory_container

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    """What /schema/openapi.json serves (rendered from the same object)."""
    return create_app(in_memory_container()).openapi_schema.to_schema()


def operations(schema: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): item[method]
        for path, item in schema["paths"].items()
        for method in METHODS
        if method in item
    }


def test_every_operation_has_a_summary_a_description_and_a_readable_unique_id(
    schema: dict[str, Any],
) -> None:
    ids = []
    for key, operation in operations(schema).items():
        assert " " in operation["summary"], key  # a sentence, not a function name
        assert len(operation["description"]) > len(operation["summary"]), key
        assert re.fullmatch(r"[a-z][A-Za-z]+", operation["operationId"]), key
        ids.append(operation["operationId"])
    assert len(ids) == len(set(ids))


def test_the_catalogue_names_only_operations_that_exist(schema: dict[str, Any]) -> None:
    assert set(CATALOGUE) <= set(operations(schema))
    assert operations(schema)[("POST", "/api/v2/lgt-all")]["operationId"] == "logoutUserEverywhere"


def test_the_spec_bodies_are_the_examples(schema: dict[str, Any]) -> None:
    ops = operations(schema)

    def examples(key: tuple[str, str], status: str) -> list[object]:
        content = ops[key]["responses"][status]["content"]["application/json"]
        return [example["value"] for example in content["examples"].values()]

    logout, lgt_all = ("POST", "/api/v2/logout"), ("POST", "/api/v2/lgt-all")
    assert examples(logout, "200") == [{"message": "Successfully Logged Out."}]
    assert examples(logout, "401") == [{"title": "Unauthorized"}]
    assert examples(lgt_all, "200") == [{"message": "Successfully Logged Out From All Device."}]
    assert examples(lgt_all, "401") == [
        {"title": "Kindly Provide User ID"},
        {"title": "Kindly Provide APP ID and APP KEY"},
        {"title": "Kindly Provide Valid APP ID and APP KEY"},
    ]
    assert examples(lgt_all, "413") == [{"title": "Request Entity Too Large"}]


def test_no_error_example_is_made_up(schema: dict[str, Any]) -> None:
    for key, operation in operations(schema).items():
        for status, response in operation["responses"].items():
            for media in response.get("content", {}).values():
                if media["schema"].get("$ref", "").endswith("/ErrorBody"):
                    titles = [e["value"]["title"] for e in media["examples"].values()]
                    assert titles, (key, status)
                    assert all(re.fullmatch(r"[A-Z][A-Za-z ]+", t) for t in titles), titles
                if media["schema"].get("$ref", "").endswith("/OAuthError"):
                    codes = [e["value"]["error"] for e in media["examples"].values()]
                    assert codes, (key, status)
                    assert all(re.fullmatch(r"[a-z_]+", code) for code in codes), codes


def test_headers_are_documented(schema: dict[str, Any]) -> None:
    ops = operations(schema)
    for key, operation in ops.items():
        for response in operation["responses"].values():
            assert "X-Request-Id" in response["headers"], key
        if "401" in operation["responses"]:
            headers = operation["responses"]["401"]["headers"]
            challenge = "WWW-Authenticate" if operation.get("security") else "Retry-After"
            assert challenge in headers, key
            if key[1].startswith("/oauth/"):
                assert headers["WWW-Authenticate"]["description"].startswith("`Basic`")
    verified = ops[("GET", "/api/v2/auth/verify")]["responses"]["200"]["headers"]
    assert {"X-User-Id", "X-Token-Jti", "X-Token-Expires-At"} <= set(verified)


def test_the_verify_route_is_documented_once(schema: dict[str, Any]) -> None:
    verify = [key for key in operations(schema) if key[1].startswith("/api/v2/auth/verify")]
    assert sorted(verify) == [("GET", "/api/v2/auth/verify"), ("HEAD", "/api/v2/auth/verify")]
    description = operations(schema)[("GET", "/api/v2/auth/verify")]["description"]
    assert "any path under it" in description
    assert "POST, PUT, PATCH, DELETE, OPTIONS" in description
