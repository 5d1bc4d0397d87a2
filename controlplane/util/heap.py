"""The garbage collector's pauses in a long-lived server.

A full collection scans every object the collector tracks. After start-up most of them (modules, the
app, its routes, models and engines) live as long as the process, so scanning them again and again only
stalls requests: in the API benchmark's process (~240,000 objects alive after start-up), each full pass
took 120-180 ms on a 2-core machine, every few seconds under load. They are collected once and then set
aside (``gc.freeze``); the full passes that follow scan only what was made since.
"""

from __future__ import annotations

import gc


def settle_after_start() -> int:
    """Collect once and set aside what start-up left alive, so later full collections skip it; how many
    objects were set aside."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
