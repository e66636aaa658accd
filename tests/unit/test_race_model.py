"""The race judge on hand-written timelines: it must flag what the contract forbids and allow
what it leaves open, or the race test could pass by judging nothing."""

from __future__ import annotations

from tests.race_model import UNAUTHORIZED, judge
from tests.race_program import UNAVAILABLE, Issued, Probe, Run, UserLogout

LOGGED_OUT = b'{"message":"Successfully Logged Out."}'


def run_with(probes: list[Probe], user_logouts: list[UserLogout] | None = None) -> Run:
    run = Run(clients=[], user_ids=[41], credentials={})
    run.tokens.append(Issued("t", user=0, sent=0, done=1))
    run.probes.extend(probes)
    run.user_logouts.extend(user_logouts or [])
    return run


def body_of(status: int, success: bytes) -> bytes:
    return {200: success, 401: UNAUTHORIZED, 503: UNAVAILABLE}[status]


def validate(sent: int, done: int, status: int) -> Probe:
    body = body_of(status, b"")
    return Probe("validate", 0, 0, sent, done, status, body, "41" if status == 200 else None)


def logout(sent: int, done: int, status: int = 200, pair: int | None = None) -> Probe:
    return Probe("logout", 0, 1, sent, done, status, body_of(status, LOGGED_OUT), None, pair)


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


class TestJudgeUnderFaults:
    """`allow_unavailable`: a 503 may answer anything, and a 503 revocation is a "maybe"."""

    def test_after_a_503_logout_both_acceptance_and_refusal_are_legal(self) -> None:
        for status in (200, 401):
            run = run_with([logout(2, 3, 503), validate(4, 5, status)])
            assert judge(run, allow_unavailable=True).violations == []

    def test_a_503_logout_is_never_surely_dead_yet_a_later_200_logout_is(self) -> None:
        run = run_with([logout(2, 3, 503), logout(4, 5, 200), validate(6, 7, 200)])
        violations = judge(run, allow_unavailable=True).violations
        assert len(violations) == 1
        assert violations[0].startswith("revoked token accepted")

    def test_accepting_after_a_returned_logout_is_still_a_violation(self) -> None:
        verdict = judge(run_with([logout(2, 3), validate(4, 5, 200)]), allow_unavailable=True)
        assert verdict.violations[0].startswith("revoked token accepted")

    def test_a_503_logout_of_a_surely_dead_token_accepted_it(self) -> None:
        verdict = judge(run_with([logout(2, 3), logout(4, 5, 503)]), allow_unavailable=True)
        assert verdict.violations[0].startswith("revoked token accepted")

    def test_a_503_validate_is_allowed_only_under_faults(self) -> None:
        for run in (run_with([validate(2, 3, 503)]), run_with([logout(2, 3), validate(4, 5, 503)])):
            assert judge(run, allow_unavailable=True).violations == []
        assert judge(run_with([logout(2, 3, 503)])).violations[0].startswith("unexpected status")

    def test_a_503_user_logout_makes_older_tokens_maybe_dead(self) -> None:
        maybe = [UserLogout(0, sent=2, done=3, status=503)]
        for status in (200, 401):
            run = run_with([validate(4, 5, status)], maybe)
            assert judge(run, allow_unavailable=True).violations == []
        assert judge(run_with([validate(4, 5, 401)], maybe)).violations  # strict: lgt-all 503

    def test_a_503_user_logout_leaves_later_tokens_live(self) -> None:
        run = run_with([], [UserLogout(0, sent=0, done=1, status=503)])
        run.tokens[0] = Issued("t", user=0, sent=2, done=3)
        run.probes.append(validate(4, 5, 401))
        assert judge(run, allow_unavailable=True).violations[0].startswith("live token refused")

    def test_a_concurrent_pair_with_a_503_may_have_revoked(self) -> None:
        pair = run_with([logout(2, 5, 503, pair=0), logout(3, 4, 401, pair=0)])
        assert judge(pair, allow_unavailable=True).violations == []
        assert judge(pair).violations  # strict: no 503 at all
        wrong = Probe("validate", 0, 0, 2, 3, 503, b"oops")
        assert judge(run_with([wrong]), allow_unavailable=True).violations
