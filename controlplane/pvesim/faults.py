"""Deterministic fault injection: latency, HTTP errors, dropped connections, failing tasks, offline nodes.

A rule is a dict or a spec string ``kind,key=value,...``; kinds and keys:

* ``latency``    ``path`` (glob, default ``*``), ``method`` (default ``*``), ``seconds``, ``rate``
* ``error``      ``path``, ``method``, ``status`` (default 500), ``rate``, ``message``
* ``drop``       ``path``, ``method``, ``rate`` - the connection is closed without a response
* ``task-error`` ``type`` (task type glob: ``qmstart``), ``id`` (glob: the vmid), ``rate``, ``message``
* ``offline``    ``node`` - applied to the state at once (the node answers 595 until brought back)

``rate`` (default 1) is a probability; each rule draws from its own ``random.Random`` seeded with the
simulator seed and the rule's index, so the same sequence of requests gives the same faults. ``count``
limits how often a rule fires. Paths are API paths without ``/api2/json`` (``/nodes/*/qemu``).
"""

from __future__ import annotations

import fnmatch
import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from . import propstring

KINDS = ("latency", "error", "drop", "task-error", "offline")


@dataclass
class FaultRule:
    """One fault injection rule (see the module docstring)."""

    kind: str
    path: str = "*"
    method: str = "*"
    rate: float = 1.0
    seconds: float = 0.0
    status: int = 500
    message: str = ""
    type: str = "*"
    id: str = "*"
    node: str = ""
    count: int | None = None
    fired: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    @classmethod
    def parse(cls, spec: str | dict[str, Any]) -> FaultRule:
        """Build a rule from a dict or a ``kind,key=value`` string (ValueError when malformed)."""
        data: dict[str, Any] = dict(spec) if isinstance(spec, dict) else dict(propstring.parse(spec, "kind"))
        if data.get("kind") not in KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(KINDS)}, got {data.get('kind')!r}")
        known = {
            "kind",
            "path",
            "method",
            "rate",
            "seconds",
            "status",
            "message",
            "type",
            "id",
            "node",
            "count",
        }
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault keys: {', '.join(sorted(unknown))}")
        for key, conv in (("rate", float), ("seconds", float), ("status", int), ("count", int)):
            if data.get(key) is not None:
                data[key] = conv(data[key])
        if "method" in data:
            data["method"] = str(data["method"]).upper()
        return cls(**data)

    def describe(self) -> dict[str, Any]:
        """JSON-friendly view of the rule."""
        out = asdict(self)
        out.pop("rng")
        return out

    def matches(self, method: str, path: str) -> bool:
        """True when this request rule applies to ``method path``."""
        return (
            self.method in ("*", method)
            and fnmatch.fnmatchcase(path, self.path)
            and (self.count is None or self.fired < self.count)
        )

    def roll(self) -> bool:
        """Draw from the rule's seeded RNG; True means the fault fires (and is counted)."""
        if self.rng.random() < self.rate:
            self.fired += 1
            return True
        return False


@dataclass
class RequestFaults:
    """What to do to one request: sleep, fail with an HTTP error, or drop the connection."""

    delay: float = 0.0
    error: tuple[int, str] | None = None
    drop: bool = False


class Faults:
    """The active rules of a simulator."""

    def __init__(self, seed: int = 1) -> None:
        self.seed = seed
        self.rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._added = 0

    def add(self, spec: str | dict[str, Any] | FaultRule) -> FaultRule:
        """Add a rule; its RNG is seeded from the simulator seed and the rule's position."""
        rule = spec if isinstance(spec, FaultRule) else FaultRule.parse(spec)
        with self._lock:
            rule.rng = random.Random(f"{self.seed}:{self._added}")
            self._added += 1
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Remove every rule (and restart the per-rule seeding)."""
        with self._lock:
            self.rules.clear()
            self._added = 0

    def for_request(self, method: str, path: str) -> RequestFaults:
        """Evaluate the request rules for ``method path``."""
        out = RequestFaults()
        with self._lock:
            for rule in self.rules:
                if rule.kind not in ("latency", "error", "drop") or not rule.matches(method, path):
                    continue
                if not rule.roll():
                    continue
                if rule.kind == "latency":
                    out.delay += rule.seconds
                elif rule.kind == "drop":
                    out.drop = True
                elif out.error is None:
                    out.error = (rule.status, rule.message or f"injected fault ({rule.status})")
        return out

    def task_error(self, type_: str, id_: str) -> str | None:
        """The error a task of ``type_`` on ``id_`` must end with, or None."""
        with self._lock:
            for rule in self.rules:
                if (
                    rule.kind == "task-error"
                    and fnmatch.fnmatchcase(type_, rule.type)
                    and fnmatch.fnmatchcase(id_, rule.id)
                    and (rule.count is None or rule.fired < rule.count)
                    and rule.roll()
                ):
                    return rule.message or f"injected task failure ({type_} {id_})"
        return None
