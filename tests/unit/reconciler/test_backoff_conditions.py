"""Backoff grows exponentially with jitter and is capped; conditions keep their transition time until the
status changes."""

from __future__ import annotations

import random

from controlplane.reconciler.backoff import Backoff
from controlplane.reconciler.conditions import set_condition


def test_backoff_grows_jitters_and_caps() -> None:
    backoff = Backoff(base=2, cap=60, jitter=0.5)
    rng = random.Random(1)
    delays = [backoff.delay(n, rng=rng) for n in range(1, 10)]
    assert 1 <= delays[0] <= 2 and 4 <= delays[2] <= 8
    assert all(d <= 60 for d in delays) and delays[-1] >= 30
    assert len({round(backoff.delay(3, rng=rng), 6) for _ in range(20)}) > 1, "no jitter"
    assert backoff.delay(1, at_least=10, rng=rng) == 10


def test_condition_transition_time_moves_only_on_status_change() -> None:
    first = set_condition([], "Ready", False, "Creating", "x")
    again = set_condition([{**first[0], "last_transition": "t0"}], "Ready", False, "RetryScheduled", "y")
    assert again[0]["last_transition"] == "t0" and again[0]["reason"] == "RetryScheduled"
    flipped = set_condition(again, "Ready", True, "Reconciled")
    assert flipped[0]["status"] == "True" and flipped[0]["last_transition"] != "t0"
