"""Schemathesis against the service's own OpenAPI schema, served by the real `revocation serve`
on Postgres and Redis: no 5xx, every response as documented, and a 2xx on every operation.

Generated cases are sent either as generated (mostly 401s) or "authorized": a freshly issued
bearer token, the real app id and key in internal bodies, and the caller's own session id,
so every operation is exercised past its guard. SCHEMATHESIS_EXAMPLES sets the size.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation

from tests.live_server import SERVER_ENV, LiveServer, live_server
from tests.random_refs import random_user_id

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25"))
CREDENTIALS = {"app_id": SERVER_ENV["APP_ID"], "app_key": SERVER_ENV["APP_KEY"]}
OAUTH_CLIENT = {"client_id": SERVER_ENV["APP_ID"], "client_secret": SERVER_ENV["APP_KEY"]}
OAUTH_FORM = "application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
def server(postgres_url: str, redis_url: str) -> Iterator[LiveServer]:
    with live_server({"DATABASE_URL": postgres_url, "REDIS_URL": redis_url}) as running:
        yield running


def fresh_token(server: LiveServer) -> str:
    body = {"user_id": random_user_id(), "device": "schemathesis", **CREDENTIALS}
    response = httpx.post(f"{server.base_url}/api/v2/internal/tokens", json=body)
    response.raise_for_status()
    return str(response.json()["token"])


def authorize(case: Case[Any], server: LiveServer) -> dict[str, str]:
    """Make a generated case able to succeed: real token, real credentials, own session id.

    Returns the Authorization header, passed explicitly so schemathesis knows it is real auth
    (and probes the same request without it and with a wrong one: both must be 401).
    """
    token = fresh_token(server)
    if isinstance(case.body, dict) and case.media_type == OAUTH_FORM:
        case.body = {**case.body, "token": token, **OAUTH_CLIENT}  # an OAuth client's form
        return {}
    if isinstance(case.body, dict):
        case.body = {**case.body, **CREDENTIALS}
    if case.path_parameters and "session_id" in case.path_parameters:
        sessions = httpx.get(
            f"{server.base_url}/api/v2/sessions", headers={"Authorization": f"Bearer {token}"}
        ).json()["sessions"]
        case.path_parameters = {**case.path_parameters, "session_id": sessions[0]["id"]}
    return {"Authorization": f"Bearer {token}"}


def exercise(
    operation: APIOperation[Any, Any, Any, Any],
    server: LiveServer,
    statuses: set[int],
    failures: list[str],
) -> None:
    """EXAMPLES generated cases: valid data sent authorized (it must be able to succeed), or
    valid or invalid data sent as generated (it must be refused as documented)."""
    positive = operation.as_strategy(GenerationMode.POSITIVE)
    negative = operation.as_strategy(GenerationMode.NEGATIVE)
    cases = st.one_of(
        st.tuples(positive, st.just(True)),
        st.tuples(st.one_of(positive, negative), st.just(False)),
    )

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(generated=cases)
    def run(generated: tuple[Case[Any], bool]) -> None:
        case, authorized = generated
        headers = authorize(case, server) if authorized else None
        response = case.call(headers=headers)
        statuses.add(response.status_code)
        try:
            case.validate_response(response, headers=headers)
        except (AssertionError, FailureGroup) as failure:  # collect all, report together
            failures.append(f"{operation.label} {response.status_code}: {failure}")

    run()


def test_every_operation_conforms_and_reaches_a_2xx(server: LiveServer) -> None:
    schema = schemathesis.openapi.from_url(f"{server.base_url}/schema/openapi.json")
    statuses: defaultdict[str, set[int]] = defaultdict(set)
    failures: list[str] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        exercise(operation, server, statuses[operation.label], failures)
    print({label: sorted(codes) for label, codes in statuses.items()})
    assert failures == []
    never_succeeded = [
        label for label, codes in statuses.items() if not any(200 <= c < 300 for c in codes)
    ]
    assert never_succeeded == []
