"""How long a primary may be trusted, from the deployment's own word: the Sentinel window (its
sentinels' down-after time, quorum and ping ages) and the Cluster rule (its replicas' view),
on answers written out by hand."""

from __future__ import annotations

import pytest

from revocation.adapters.redis.cluster import _confirmed, _owners, parse_cluster_nodes
from revocation.adapters.redis.sentinel import (
    _all_answered,
    _extended,
    _Streak,
    _trusted_until,
    _View,
)

A, B = ("10.0.0.1", 6379), ("10.0.0.2", 6379)


def view(address: tuple[str, int] = A, *, ping_ms: int = 200, healthy: bool = True) -> _View:
    return _View(
        address=address,
        healthy=healthy,
        last_ok_ping_ms=ping_ms,
        down_after_ms=5000,
        quorum=2,
        sentinels=3,
    )


class TestSentinelWindow:
    def test_the_window_runs_to_the_down_after_time_less_the_deciding_ping_age(self) -> None:
        vouching = [view(ping_ms=200), view(ping_ms=900)]
        # A quorum of 2 of 3 must include one of the two: the one pinged longest ago decides.
        until = _trusted_until(100.0, vouching, vouching, configured=3)
        assert until == pytest.approx(100.0 + (5000 * 0.9 - 900) / 1000)

    def test_with_every_sentinel_vouching_the_freshest_quorum_member_decides(self) -> None:
        vouching = [view(ping_ms=100), view(ping_ms=500), view(ping_ms=900)]
        # Any two sentinels make a quorum: the adversary picks 500 and 900; 500 decides.
        until = _trusted_until(0.0, vouching, vouching, configured=3)
        assert until == pytest.approx((4500 - 500) / 1000)

    def test_with_every_sentinel_answering_the_oldest_ping_decides_at_once(self) -> None:
        answered = [view(ping_ms=100), view(ping_ms=500), view(ping_ms=900)]
        until = _all_answered(0.0, answered, answered, configured=3)
        assert until == pytest.approx((4500 - 900) / 1000)
        assert _all_answered(0.0, answered[:2], answered, configured=3) is None
        assert _all_answered(0.0, answered, answered, configured=4) is None

    def test_too_few_vouching_sentinels_confirm_nothing(self) -> None:
        one = [view()]  # the two others could make a quorum on their own
        assert _trusted_until(0.0, one, one, configured=3) is None

    def test_a_sentinel_that_knows_more_sentinels_raises_the_bar(self) -> None:
        vouching = [view(), view()]
        larger = [*vouching, _View(B, True, 100, 5000, 2, sentinels=5)]
        assert _trusted_until(0.0, vouching, larger, configured=3) is None

    def test_a_streak_grows_only_over_healthy_answers_at_most_a_second_apart(self) -> None:
        streak = _extended(None, view(), sent=10.0)
        assert streak == _Streak(A, since=10.0, last=10.0)
        streak = _extended(streak, view(), sent=10.9)
        assert streak is not None
        assert (streak.since, streak.last) == (10.0, 10.9)
        assert _extended(streak, view(), sent=12.0) == _Streak(A, 12.0, 12.0)  # a gap: anew
        assert _extended(streak, view(B), sent=11.0) == _Streak(B, 11.0, 11.0)
        assert _extended(streak, view(healthy=False), sent=11.0) is None
        assert _extended(streak, None, sent=11.0) is None


NODES = """\
a1 10.0.0.1:7000@17000 myself,master - 0 0 3 connected 0-5460
a2 10.0.0.2:7000@17000 master - 0 1700000000000 4 connected 5461-10922 [5000->-b3]
a3 10.0.0.3:7000@17000 master - 0 1700000000000 5 connected 10923-16383
r1 10.0.0.4:7000@17000 slave a1 0 1700000000000 3 connected
r2 10.0.0.5:7000@17000,replica.example slave a2 0 1700000000000 4 connected
"""


def replica_view(me: str, primary_flags: str = "master") -> str:
    lines = []
    for line in NODES.splitlines():
        node_id, address, flags, *rest = line.split()
        flags = flags.replace("myself,", "")
        if node_id == me:
            flags = "myself," + flags
        if node_id == "a1":
            flags = primary_flags
        lines.append(" ".join([node_id, address, flags, *rest]))
    return "\n".join(lines)


P, R = ("10.0.0.1", 7000), ("10.0.0.4", 7000)  # a primary and its replica


class TestClusterRules:
    def test_lines_are_read_with_their_slots_and_replicas(self) -> None:
        nodes = {node.id: node for node in parse_cluster_nodes(NODES)}
        assert nodes["a2"].slots == ((5461, 10922),)  # a migration in brackets left out
        assert nodes["r2"].address == ("10.0.0.5", 7000)
        assert (nodes["r1"].primary_id, nodes["a1"].primary_id) == ("a1", None)

    def test_the_highest_epoch_owns_a_slot_both_claim(self) -> None:
        newer = NODES.replace("a3 10.0.0.3:7000@17000 master - 0 1700000000000 5 connected", "")
        moved = "b9 10.0.0.9:7000@17000 master - 0 0 9 connected 16000-16383\n"
        owners = _owners({P: parse_cluster_nodes(NODES), B: parse_cluster_nodes(newer + moved)})
        assert owners[0] == P
        assert owners[15999] == ("10.0.0.3", 7000)
        assert owners[16000] == ("10.0.0.9", 7000)  # the newer epoch's claim

    def test_a_primary_is_confirmed_when_every_replica_answers_seeing_it_well(self) -> None:
        views = {P: parse_cluster_nodes(NODES), R: parse_cluster_nodes(replica_view("r1"))}
        assert _confirmed(P, views)

    @pytest.mark.parametrize("flags", ["master,fail", "master,fail,noflags"])
    def test_a_replica_that_sees_its_primary_failed_ends_the_trust(self, flags: str) -> None:
        views = {
            A: parse_cluster_nodes(NODES),
            R: parse_cluster_nodes(replica_view("r1", flags)),
        }
        assert not _confirmed(P, views)

    def test_a_replica_that_did_not_answer_or_took_over_ends_the_trust(self) -> None:
        assert not _confirmed(P, {P: parse_cluster_nodes(NODES)})
        took_over = replica_view("r1").replace("myself,slave a1", "myself,master -")
        views = {P: parse_cluster_nodes(NODES), R: parse_cluster_nodes(took_over)}
        assert not _confirmed(P, views)

    def test_a_primary_that_did_not_answer_itself_is_not_confirmed(self) -> None:
        assert not _confirmed(P, {R: parse_cluster_nodes(replica_view("r1"))})
