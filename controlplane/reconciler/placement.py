"""Placement: choosing a node for a guest whose spec says ``node: auto``, from observed capacity.

Eligible nodes are online, have the CPUs, the free memory (observed use plus guests placed but not yet
created) and every storage the guest's disks name. Among them ``spread`` takes the node with the most free
memory (then the lowest CPU use), ``pack`` the one with the least free memory that still fits.
Anti-affinity by label: with ``anti_affinity="app"``, a node already holding a guest whose label ``app``
equals this guest's is not eligible. The choice is recorded in the object's status and never revisited.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from controlplane.errors import PermanentError, TemporaryError

POLICIES = ("spread", "pack")


@dataclass(frozen=True)
class NodeCapacity:
    """What placement knows of one node."""

    name: str
    online: bool
    cpus: int
    cpu: float
    memory_total_mb: int
    memory_used_mb: int
    storages: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Peer:
    """A guest already placed on the cluster."""

    node: str
    labels: dict[str, str]
    memory_mb: int = 0
    pending: bool = False


@dataclass(frozen=True)
class Request:
    """What the guest to place needs."""

    cores: int
    memory_mb: int
    storages: frozenset[str]
    labels: dict[str, str]
    policy: str = "spread"
    anti_affinity: str | None = None


@dataclass(frozen=True)
class Placement:
    """The chosen node and why."""

    node: str
    policy: str
    reason: str

    def as_status(self) -> dict[str, Any]:
        """How the choice is recorded in the object's status."""
        return {"node": self.node, "policy": self.policy, "reason": self.reason}


def _free_mb(node: NodeCapacity, peers: Iterable[Peer]) -> int:
    reserved = sum(p.memory_mb for p in peers if p.pending and p.node == node.name)
    return node.memory_total_mb - node.memory_used_mb - reserved


def place(nodes: Iterable[NodeCapacity], peers: list[Peer], request: Request) -> Placement:
    """Pick a node for ``request``; PermanentError when no node could ever fit, TemporaryError when none
    fits now (capacity may free up)."""
    if request.policy not in POLICIES:
        raise PermanentError(f"placement policy must be one of {', '.join(POLICIES)}", component="placement")
    nodes = list(nodes)
    rejected: list[str] = []
    fits: list[tuple[NodeCapacity, int]] = []
    value = request.labels.get(request.anti_affinity) if request.anti_affinity else None
    for node in nodes:
        free = _free_mb(node, peers)
        if not node.online:
            rejected.append(f"{node.name}: offline")
        elif node.cpus < request.cores:
            rejected.append(f"{node.name}: {node.cpus} CPUs < {request.cores}")
        elif not request.storages <= node.storages:
            rejected.append(f"{node.name}: no storage {', '.join(sorted(request.storages - node.storages))}")
        elif free < request.memory_mb:
            rejected.append(f"{node.name}: {free} MiB free < {request.memory_mb}")
        elif value is not None and any(p.node == node.name and p.labels.get(request.anti_affinity or "") == value
                                       for p in peers):
            rejected.append(f"{node.name}: holds a guest with {request.anti_affinity}={value}")
        else:
            fits.append((node, free))
    if not fits:
        detail = "; ".join(rejected) or "the cluster has no nodes"
        never = all(n.memory_total_mb < request.memory_mb or n.cpus < request.cores for n in nodes) and nodes
        error = PermanentError if never else TemporaryError
        raise error(f"no node can take the guest ({detail})", component="placement")
    if request.policy == "spread":
        node, free = max(fits, key=lambda f: (f[1], -f[0].cpu, f[0].name))
    else:
        node, free = min(fits, key=lambda f: (f[1], f[0].cpu, f[0].name))
    return Placement(node.name, request.policy, f"{request.policy}: {free} MiB free of {node.memory_total_mb}")
