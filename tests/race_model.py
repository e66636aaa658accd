"""Judge every answer of a race run by what had COMPLETED before its request was sent.

Ticks are taken before a request is handed to the client and after its answer is read, so a
recorded interval always contains the real one: "completed before sent" is never overstated,
and an answer is only required to be 200 when nothing that could kill its token overlapped it.

Under faults (`allow_unavailable`), any request may answer 503. A revocation that answered 503
is durable in the database but Redis may not have it, so it counts as "maybe" (never "surely")
done: later checks may accept or refuse the token. A logout that answered 503 had accepted its
token first (the block is written only after authentication), so on a token surely dead it is
a violation like a 200.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from tests.race_program import UNAVAILABLE, Probe, Run, UserLogout

UNAUTHORIZED = b'{"title":"Unauthorized"}'
SUCCESS_BODIES = {
    "logout": b'{"message":"Successfully Logged Out."}',
    "logout_all": b'{"message":"Successfully Logged Out From All Device."}',
}
REVOKING = (200, 503)  # a revocation that answered 503 may have taken effect


@dataclass
class Verdict:
    violations: list[str]
    outcomes: Counter[str]  # "kind status" -> how many
    both_succeeded_pairs: int  # double logouts where both instances answered 200


def judge(run: Run, *, allow_unavailable: bool = False) -> Verdict:
    logouts: defaultdict[int, list[Probe]] = defaultdict(list)
    for probe in run.probes:
        if probe.kind == "logout" and probe.status in REVOKING:
            logouts[probe.token].append(probe)
    violations = list(run.errors)
    outcomes: Counter[str] = Counter()
    for probe in run.probes:
        outcomes[f"{probe.kind} {probe.status}"] += 1
        violations += _check(run, probe, logouts[probe.token], allow_unavailable)
    for lgt_all in (w for w in run.user_logouts if w.kind == "lgt_all"):
        outcomes[f"lgt_all {lgt_all.status}"] += 1
        if lgt_all.status != 200 and not allow_unavailable:
            violations.append(f"unexpected status: {lgt_all}")
    violations += _check_pairs(run, logouts)
    successes = Counter(p.pair for p in run.probes if p.pair is not None and p.status == 200)
    return Verdict(violations, outcomes, sum(1 for count in successes.values() if count == 2))


def _check(run: Run, probe: Probe, logouts: list[Probe], allow_unavailable: bool) -> list[str]:
    if problem := _wrong_body(run, probe, allow_unavailable):
        return [problem]
    token = run.tokens[probe.token]
    killers = [w for w in run.user_logouts if w.user == token.user]
    surely_dead = any(q.status == 200 and q.done < probe.sent for q in logouts) or any(
        w.status == 200 and w.done < probe.sent and token.done < w.sent for w in killers
    )
    accepted = probe.status == 200 or (probe.kind != "validate" and probe.status == 503)
    if surely_dead and accepted:
        return [f"revoked token accepted: {probe} (token {token})"]
    maybe_dead = any(q is not probe and q.sent < probe.done for q in logouts) or any(
        _may_kill(w, probe.done, token.sent) for w in killers
    )
    refused = probe.status != 200 and not (allow_unavailable and probe.status == 503)
    if not maybe_dead and refused and probe.pair is None:
        return [f"live token refused: {probe} (token {token})"]
    return []


def _may_kill(user_logout: UserLogout, before: int, token_sent: int) -> bool:
    """It began before `before`, and did not end before the token was asked for."""
    return user_logout.sent < before and not token_sent > user_logout.done


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
            w.user == token.user and _may_kill(w, last_done, token.sent) for w in run.user_logouts
        )
        # A 503 is judged by _check; here it counts as "may have succeeded".
        if not maybe_dead and all(p.status not in REVOKING for p in pair):
            violations.append(f"both concurrent logouts refused a live token: {pair}")
    return violations


def _wrong_body(run: Run, probe: Probe, allow_unavailable: bool) -> str | None:
    if probe.status == 401:
        return None if probe.body == UNAUTHORIZED else f"401 with body {probe.body!r}"
    if probe.status == 503 and allow_unavailable:
        return None if probe.body == UNAVAILABLE else f"503 with body {probe.body!r}"
    if probe.status != 200:
        return f"unexpected status: {probe}"
    if probe.kind == "validate":
        expected_user = run.user_ids[run.tokens[probe.token].user]
        ok = probe.body == b"" and probe.user_header == str(expected_user)
    else:
        ok = probe.body == SUCCESS_BODIES[probe.kind]
    return None if ok else f"200 with body {probe.body!r} for {probe.kind}"
