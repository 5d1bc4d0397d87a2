"""Placement: eligibility (online, CPUs, storage, free memory incl. pending creates), spread vs pack,
anti-affinity by label, and which failures are permanent."""

from __future__ import annotations

import pytest

from controlplane.errors import PermanentError, TemporaryError
from controlplane.reconciler.placement import NodeCapacity, Peer, Request, place

STORES = frozenset({"local", "local-lvm"})


def node(name: str, used: int, total: int = 8192, online: bool = True, cpus: int = 8) -> NodeCapacity:
    return NodeCapacity(name, online, cpus, 0.1, total, used, STORES)


def ask(memory: int = 1024, **kw) -> Request:
    return Request(cores=kw.pop("cores", 1), memory_mb=memory, storages=frozenset({"local-lvm"}),
                   labels=kw.pop("labels", {}), **kw)


def test_spread_takes_the_emptiest_and_pack_the_fullest_that_fits() -> None:
    nodes = [node("a", 1000), node("b", 6000), node("c", 7500)]
    assert place(nodes, [], ask()).node == "a"
    assert place(nodes, [], ask(policy="pack")).node == "b"


def test_pending_creates_reserve_memory() -> None:
    nodes = [node("a", 1000), node("b", 2000)]
    peers = [Peer("a", {}, 2000, pending=True)]
    assert place(nodes, peers, ask()).node == "b"


def test_offline_missing_storage_and_cpus_are_not_eligible() -> None:
    nodes = [node("a", 0, online=False), NodeCapacity("b", True, 8, 0, 8192, 0, frozenset({"local"})),
             node("c", 0, cpus=1), node("d", 4000)]
    assert place(nodes, [], ask(cores=2)).node == "d"


def test_anti_affinity_by_label() -> None:
    nodes = [node("a", 0), node("b", 3000)]
    peers = [Peer("a", {"app": "db"})]
    assert place(nodes, peers, ask(labels={"app": "db"}, anti_affinity="app")).node == "b"
    assert place(nodes, peers, ask(labels={"app": "web"}, anti_affinity="app")).node == "a"
    with pytest.raises(TemporaryError, match="holds a guest with app=db"):
        place([node("a", 0)], peers, ask(labels={"app": "db"}, anti_affinity="app"))


def test_too_big_for_every_node_is_permanent_full_cluster_is_temporary() -> None:
    with pytest.raises(PermanentError):
        place([node("a", 0)], [], ask(memory=100_000))
    with pytest.raises(TemporaryError):
        place([node("a", 8000)], [], ask(memory=1024))
