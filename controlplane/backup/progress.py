"""Telling the operator how a long backup or restore step is going, without flooding a cron mail."""

from __future__ import annotations

import time
from collections.abc import Callable


class Progress:
    """Steps as lines through ``say``; items of a step (tables, secrets) at most once per ``interval`` seconds,
    and always the last one."""

    def __init__(self, say: Callable[[str], None], *, interval: float = 2.0) -> None:
        self.say = say
        self.interval = interval
        self._last = 0.0

    def step(self, message: str) -> None:
        """Report the start (or the outcome) of a step."""
        self.say(message)
        self._last = time.monotonic()

    def item(self, what: str, done: int, total: int, name: str = "") -> None:
        """Report that ``done`` of ``total`` items of ``what`` are done (``name``: the latest one)."""
        now = time.monotonic()
        if done >= total or now - self._last >= self.interval:
            self._last = now
            self.say(f"  {what}: {done}/{total}" + (f" ({name})" if name else ""))

    def counter(self, what: str, total: int) -> Callable[[str], None]:
        """A callback to call once per finished item of ``what`` (with its name), reporting as :meth:`item`."""
        done = 0

        def finished(name: str) -> None:
            nonlocal done
            done += 1
            self.item(what, done, total, name)

        return finished
