"""The benchmark compares a refusal's row with an acceptance's round by round."""

from __future__ import annotations

import subprocess
from typing import cast

import pytest

from bench.hot_path import BLACKLISTED, COLD, HELLO, VALID, Case, paired
from bench.infra import App
from bench.run import _valid_then_blacklisted


def test_paired_is_the_median_of_the_ratios_within_each_round() -> None:
    # Medians 30 vs 20 (1.5x); within each round the first row is 0.5x to 2x the second.
    assert paired([10, 30, 40], [20, 15, 20]) == 2.0
    assert paired([9, 10, 11], [10, 10, 10]) == 1.0


@pytest.mark.parametrize(("numerator", "denominator"), [([], []), ([1.0, 2.0], [1.0])])
def test_paired_needs_the_same_rounds_on_both_sides(
    numerator: list[float], denominator: list[float]
) -> None:
    with pytest.raises(ValueError, match="same rounds"):
        paired(numerator, denominator)


def test_each_apps_blacklisted_row_follows_its_valid_row() -> None:
    no_process = cast(subprocess.Popen[bytes], None)  # only labels matter here
    apps = [App(label, f"http://127.0.0.1:{port}", no_process) for port, label in enumerate("abc")]
    cases = {
        name: Case(name, "/", ("t",) if name != HELLO else (), 200)
        for name in (HELLO, VALID, BLACKLISTED, COLD)
    }
    served = [(app, cases[name]) for name in (HELLO, VALID, BLACKLISTED, COLD) for app in apps]
    ordered = _valid_then_blacklisted(served)
    assert [(app.label, case.name) for app, case in ordered] == [
        *[(label, HELLO) for label in "abc"],
        *[(label, name) for label in "abc" for name in (VALID, BLACKLISTED)],
        *[(label, COLD) for label in "abc"],
    ]
