"""Per-route request counters: how many API calls each (method, route) received, so tests and benchmarks
can measure what a client costs (``Simulator.stats``, ``GET /_sim/stats``, ``DELETE /_sim/stats``)."""

from __future__ import annotations

import threading
from collections import Counter


class RequestStats:
    """Thread-safe counts of ``/api2/json`` requests keyed by (method, route template).

    The template is the route's path with placeholders (``/nodes/{node}/qemu/{vmid}/config``); a request
    that matched no route is counted under its literal path.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()

    def record(self, method: str, route: str) -> None:
        """Count one request."""
        with self._lock:
            self._counts[(method, route)] += 1

    def snapshot(self) -> dict[tuple[str, str], int]:
        """A copy of the current counts."""
        with self._lock:
            return dict(self._counts)

    def total(self) -> int:
        """All requests counted since the last reset."""
        with self._lock:
            return sum(self._counts.values())

    def count(self, method: str, route: str) -> int:
        """Requests of one (method, route template)."""
        with self._lock:
            return self._counts[(method, route)]

    def reset(self) -> dict[tuple[str, str], int]:
        """Clear the counters; returns the counts they held."""
        with self._lock:
            old, self._counts = dict(self._counts), Counter()
            return old

    def describe(self) -> dict[str, object]:
        """JSON form: total plus one row per route, busiest first."""
        counts = self.snapshot()
        rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][1], kv[0][0]))
        return {
            "total": sum(counts.values()),
            "requests": [{"method": m, "path": p, "count": n} for (m, p), n in rows],
        }
