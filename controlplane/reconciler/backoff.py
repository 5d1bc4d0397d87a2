"""Retry delays: exponential backoff with full jitter, capped; a TemporaryError may ask for a minimum delay."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """``base * 2**(attempt-1)`` seconds, capped at ``cap``, with a random part of ``jitter`` of the delay."""

    base: float = 2.0
    cap: float = 300.0
    jitter: float = 0.5

    def delay(self, attempt: int, *, at_least: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts failures so far, from 1)."""
        raw = min(self.cap, self.base * 2 ** max(0, attempt - 1))
        draw = (rng or random).random()
        value = raw * (1 - self.jitter) + raw * self.jitter * draw
        if at_least is not None:
            value = max(value, at_least)
        return min(value, self.cap)
