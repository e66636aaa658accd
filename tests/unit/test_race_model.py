"""The race judge on hand-written timelines: it must flag what the contract forbids and allow
what it leaves open, or the race test could pass by judging nothing."""

from __future__ import annotations

from tests.race_model import UNAUTHORIZED, judge
from tests.race_program import Issued, Probe, Run, UserLogout

LOGGED_OUT = b'{"message":"Successfully Logged Out."}'


def run_with(probes: list[Probe], user_logouts: list[UserLogout] | None = None) -> Run:
    run = Run(clients=[], user_ids=[41], credentials={})
    run.tokens.append(Issued("t", user=0, sent=0, done=1))
    run.probes.extend(probes)
    run.user_logouts.extend(user_logouts or [])
    return run


def validate(sent: int, done: int, status: int) -> Probe:
    body = b"" if status == 200 else UNAUTHORIZED
    return Probe("validate", 0, 0, sent, done, status, body, "41" if status == 200 else None)


def logout(sent: int, done: int, status: int = 200, pair: int | None = None) -> Probe:
    return Probe(
        "logout",
        0,
        1,
        sent,
        done,
        status,
        LOGGED_OUT if status == 200 else UNAUTHORIZED,
        None,
        pair,
    )


class TestJudge:
    def test_accepting_after_a_completed_logout_is_a_violation(self) -> None:
        verdict = judge(run_with([logout(2, 3), validate(4, 5, 200)]))
        assert len(verdict.violations) == 1
        assert verdict.violations[0].startswith("revoked token accepted")

    def test_accepting_during_a_logout_is_allowed(self) -> None:
        assert judge(run_with([logout(2, 5), validate(3, 4, 200)])).violations == []

    def test_refusing_a_live_token_is_a_violation(self) -> None:
        verdict = judge(run_with([validate(2, 3, 401)]))
        assert verdict.violations[0].startswith("live token refused")

    def test_a_user_logout_kills_tokens_issued_before_it_started(self) -> None:
        killed = run_with([validate(5, 6, 200)], [UserLogout(0, sent=2, done=3)])
        assert judge(killed).violations[0].startswith("revoked token accepted")

    def test_a_token_issued_after_a_user_logout_returned_must_work(self) -> None:
        run = run_with([], [UserLogout(0, sent=0, done=1)])
        run.tokens[0] = Issued("t", user=0, sent=2, done=3)
        run.probes.append(validate(4, 5, 401))
        assert judge(run).violations[0].startswith("live token refused")

    def test_concurrent_logouts_may_both_succeed_but_not_both_fail(self) -> None:
        both = run_with([logout(2, 5, pair=0), logout(3, 4, pair=0)])
        assert judge(both).violations == []
        assert judge(both).both_succeeded_pairs == 1
        neither = run_with([logout(2, 5, 401, pair=0), logout(3, 4, 401, pair=0)])
        assert judge(neither).violations[0].startswith("both concurrent logouts refused")

    def test_a_5xx_or_a_wrong_body_is_a_violation(self) -> None:
        assert judge(run_with([validate(2, 3, 503)])).violations[0].startswith("unexpected status")
        wrong_user = Probe("validate", 0, 0, 2, 3, 200, b"", "42")
        assert judge(run_with([wrong_user])).violations
