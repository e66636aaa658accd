"""The per-request check under load: hello, a valid token, a blacklisted one; rounds interleaved."""

from __future__ import annotations

import statistics
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from redis import Redis

from bench.infra import App
from bench.load import Load, run_wrk
from bench.reference_app import HELLO_PATH
from revocation.adapters.redis.client import KeyLayout, vouched
from revocation.entrypoints.http.verify import VERIFY_PATH


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    tokens: Sequence[str]
    status: int  # what every response must be
    # Every token seen once before the load (memos, caches); False: more tokens than any cache
    # holds, and only a sample is checked first, so most arrive unseen.
    warm: bool = True


@dataclass(frozen=True)
class Figures:
    """Medians over the rounds of one app on one case (and its req/s and p50 per round, in
    round order, for `paired`)."""

    rps: float
    p50_ms: float
    p99_ms: float
    rounds: int
    rps_by_round: tuple[float, ...] = ()
    p50_by_round: tuple[float, ...] = ()


def paired(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """The median over rounds of one figure over another measured in the same round.

    For two rows of one app that `measure` ran back to back in every round: the machine's drift
    between rounds (10 % and more here) then cancels, where a ratio of the two medians keeps it;
    two rows whose costs differ by a few percent need that."""
    if not numerator or len(numerator) != len(denominator):
        raise ValueError("paired figures need the same rounds on both sides")
    return statistics.median(n / d for n, d in zip(numerator, denominator, strict=True))


HELLO, VALID, BLACKLISTED = "hello (no auth)", "protected, valid token", "protected, blacklisted"
COLD = "protected, cold tokens"
COLD_SAMPLE = 20


def cases(valid: Sequence[str], revoked: Sequence[str], cold: Sequence[str] = ()) -> list[Case]:
    """Hello, valid and blacklisted tokens, and cold tokens when some are given."""
    warm = [
        Case(HELLO, HELLO_PATH, (), 200),
        Case(VALID, VERIFY_PATH, valid, 200),
        Case(BLACKLISTED, VERIFY_PATH, revoked, 401),
    ]
    return [*warm, Case(COLD, VERIFY_PATH, cold, 200, warm=False)] if cold else warm


def check_answers(app: App, case: Case) -> None:
    """Before any load: every token of the case (a sample of a cold one) gets the expected
    status from this app."""
    for token in (case.tokens if case.warm else case.tokens[:COLD_SAMPLE]) or [""]:
        request = urllib.request.Request(app.base_url + case.path)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        if status != case.status:
            raise RuntimeError(f"{app.label} {case.name}: {status}, expected {case.status}")


def wait_for_mirror(redis_url: str, modes: Sequence[str], timeout: float = 30.0) -> bool:
    """Until the start-up repairs of every mode have marked the mirror complete.

    `off` reads its own marker; `redis` and `local` the full one (Redis may answer alone).
    """
    keys = [marker for mode in modes for marker in KeyLayout().markers(full=mode != "off")]
    client = Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + timeout
        while not all(isinstance(v, bytes) and vouched(v) for v in client.mget(keys)):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True
    finally:
        client.close()


def measure(
    pairs: Sequence[tuple[App, Case]], *, rounds: int, seconds: float, connections: int
) -> dict[tuple[str, str], Figures]:
    """Rounds outermost, the order reversed every other round, so drift hits all alike."""
    runs: dict[tuple[str, str], list[Load]] = {}
    for app, case in pairs:
        check_answers(app, case)  # also the first sight of every token (memos, caches)
    for number in range(rounds):
        for app, case in pairs if number % 2 == 0 else list(reversed(pairs)):
            load = run_wrk(
                app.base_url + case.path,
                seconds=seconds,
                connections=connections,
                tokens=case.tokens,
            )
            _check_statuses(app, case, load)
            runs.setdefault((app.label, case.name), []).append(load)
    return {key: _medians(loads) for key, loads in runs.items()}


def _check_statuses(app: App, case: Case, load: Load) -> None:
    wrong = load.non_2xx if case.status < 300 else load.requests - load.non_2xx
    if wrong or load.socket_errors:
        raise RuntimeError(
            f"{app.label} {case.name}: {wrong} of {load.requests} answers were not "
            f"{case.status}, {load.socket_errors} socket errors"
        )


def _medians(loads: Sequence[Load]) -> Figures:
    return Figures(
        rps=statistics.median(load.rps for load in loads),
        p50_ms=statistics.median(load.p50_ms for load in loads),
        p99_ms=statistics.median(load.p99_ms for load in loads),
        rounds=len(loads),
        rps_by_round=tuple(load.rps for load in loads),
        p50_by_round=tuple(load.p50_ms for load in loads),
    )


def by_label(figures: Mapping[tuple[str, str], Figures], label: str) -> dict[str, Figures]:
    return {case: value for (app, case), value in figures.items() if app == label}
