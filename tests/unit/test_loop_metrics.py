"""The lock-free metrics expose exactly what prometheus_client's own would, sample for sample."""

from __future__ import annotations

import random

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from revocation.adapters.loop_metrics import LoopCounterFamily, LoopHistogramFamily

BUCKETS = (0.001, 0.01, 0.1, 1.0)


def samples(registry: CollectorRegistry) -> set[str]:
    """Exposition lines without `_created` (prometheus_client's own timestamps)."""
    text = generate_latest(registry).decode()
    return {line for line in text.splitlines() if line and "_created" not in line}


def test_a_histogram_counts_like_prometheus_client_bounds_included() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    family = LoopHistogramFamily("latency_seconds", "doc", ["route"], buckets=BUCKETS)
    ours.register(family)
    reference = Histogram("latency_seconds", "doc", ["route"], buckets=BUCKETS, registry=theirs)
    rng = random.Random(7)
    values = [*BUCKETS, 0.0, 5.0, *(rng.uniform(0, 2) for _ in range(500))]  # bounds are <=
    for index, value in enumerate(values):
        route = ("/a", "/b")[index % 2]
        family.labels(route).observe(value)
        reference.labels(route=route).observe(value)
    assert samples(ours) == samples(theirs)


def test_an_unlabelled_histogram_is_exposed_before_any_observation() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    family = LoopHistogramFamily("check_seconds", "doc", buckets=BUCKETS)
    family.labels()
    ours.register(family)
    Histogram("check_seconds", "doc", buckets=BUCKETS, registry=theirs)
    assert samples(ours) == samples(theirs)


def test_a_counter_exposes_total_per_label_set() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    family = LoopCounterFamily("requests", "doc", ["method", "status"])
    ours.register(family)
    reference = Counter("requests", "doc", ["method", "status"], registry=theirs)
    for method, status, amount in [("GET", "200", 1), ("GET", "200", 2.5), ("POST", "401", 1)]:
        family.labels(method, status).inc(amount)
        reference.labels(method=method, status=status).inc(amount)
    assert samples(ours) == samples(theirs)


def test_an_explicit_inf_bucket_is_not_exposed_twice() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    family = LoopHistogramFamily("seconds", "doc", buckets=(*BUCKETS, float("inf")))
    family.labels().observe(3.0)
    ours.register(family)
    Histogram("seconds", "doc", buckets=(*BUCKETS, float("inf")), registry=theirs).observe(3.0)
    assert samples(ours) == samples(theirs)


def test_a_wrong_number_of_label_values_is_refused() -> None:
    with pytest.raises(ValueError, match="labels"):
        LoopCounterFamily("requests", "doc", ["method", "status"]).labels("GET")
    with pytest.raises(ValueError, match="labels"):
        LoopHistogramFamily("seconds", "doc", ["route"]).labels()
