"""Judge every answer of a race run by what had COMPLETED before its request was sent.

Ticks are taken before a request is handed to the client and after its answer is read, so a
recorded interval always contains the real one: "completed before sent" is never overstated,
and an answer is only required to be 200 when nothing that could kill its token overlapped it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from tests.race_program import Probe, Run

UNAUTHORIZED = b'{"title":"Unauthorized"}'
SUCCESS_BODIES = {
    "logout": b'{"message":"Successfully Logged Out."}',
    "logout_all": b'{"message":"Successfully Logged Out From All Device."}',
}


@dataclass
class Verdict:
    violations: list[str]
    outcomes: Counter[str]  # "kind status" -> how many
    both_succeeded_pairs: int  # double logouts where both instances answered 200


def judge(run: Run) -> Verdict:
    logouts: defaultdict[int, list[Probe]] = defaultdict(list)
    for probe in run.probes:
        if probe.kind == "logout" and probe.status == 200:
            logouts[probe.token].append(probe)
    violations = list(run.errors)
    outcomes: Counter[str] = Counter()
    for probe in run.probes:
        outcomes[f"{probe.kind} {probe.status}"] += 1
        violations += _check(run, probe, logouts[probe.token])
    violations += _check_pairs(run, logouts)
    successes = Counter(p.pair for p in run.probes if p.pair is not None and p.status == 200)
    return Verdict(violations, outcomes, sum(1 for count in successes.values() if count == 2))


def _check(run: Run, probe: Probe, logouts: list[Probe]) -> list[str]:
    if problem := _wrong_body(run, probe):
        return [problem]
    token = run.tokens[probe.token]
    killers = [w for w in run.user_logouts if w.user == token.user]
    surely_dead = any(q.done < probe.sent for q in logouts) or any(
        w.done < probe.sent and token.done < w.sent for w in killers
    )
    if surely_dead and probe.status == 200:
        return [f"revoked token accepted: {probe} (token {token})"]
    maybe_dead = any(q is not probe and q.sent < probe.done for q in logouts) or any(
        w.sent < probe.done and not token.sent > w.done for w in killers
    )
    if not maybe_dead and probe.status != 200 and probe.pair is None:
        return [f"live token refused: {probe} (token {token})"]
    return []


def _check_pairs(run: Run, logouts: dict[int, list[Probe]]) -> list[str]:
    """Of two concurrent logouts of a live token, at least one succeeds (both may)."""
    pairs: defaultdict[int, list[Probe]] = defaultdict(list)
    for probe in run.probes:
        if probe.pair is not None:
            pairs[probe.pair].append(probe)
    violations = []
    for pair in pairs.values():
        token = run.tokens[pair[0].token]
        last_done = max(p.done for p in pair)
        others = [q for q in logouts.get(pair[0].token, []) if q.pair != pair[0].pair]
        maybe_dead = any(q.sent < last_done for q in others) or any(
            w.user == token.user and w.sent < last_done and not token.sent > w.done
            for w in run.user_logouts
        )
        if not maybe_dead and all(p.status != 200 for p in pair):
            violations.append(f"both concurrent logouts refused a live token: {pair}")
    return violations


def _wrong_body(run: Run, probe: Probe) -> str | None:
    if probe.status == 401:
        return None if probe.body == UNAUTHORIZED else f"401 with body {probe.body!r}"
    if probe.status != 200:
        return f"unexpected status: {probe}"
    if probe.kind == "validate":
        expected_user = run.user_ids[run.tokens[probe.token].user]
        ok = probe.body == b"" and probe.user_header == str(expected_user)
    else:
        ok = probe.body == SUCCESS_BODIES[probe.kind]
    return None if ok else f"200 with body {probe.body!r} for {probe.kind}"
