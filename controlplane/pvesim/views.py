"""JSON documents describing nodes and guests (status, /cluster/resources rows), with the per-time-bucket
cache that keeps ``/cluster/resources`` cheap at 10,000 guests (one pass, serialized once per bucket)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from . import metrics
from .model import STORAGE_SIZE, STORAGE_TYPES, STORAGES, Guest, Node
from .runtime import Runtime


class RawJson:
    """Pre-serialized ``data`` payload emitted verbatim by the response renderer."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload


def _bucket(rt: Runtime) -> int:
    interval = rt.config.metrics_interval
    return int(rt.now() // interval) if interval > 0 else int(rt.now())


def guest_status(rt: Runtime, guest: Guest) -> dict[str, Any]:
    """``GET .../status/current`` of a guest."""
    use = metrics.guest_usage(rt.seed, guest, rt.now(), rt.config.metrics_interval)
    out: dict[str, Any] = {
        "vmid": guest.vmid,
        "name": guest.name,
        "status": guest.status,
        "cpus": guest.cpus,
        "maxmem": guest.maxmem,
        "maxdisk": guest.maxdisk,
        **use,
        "ha": {"managed": 0},
    }
    if guest.kind == "qemu":
        out["qmpstatus"] = "paused" if guest.paused else guest.status
        out["agent"] = 1 if agent_enabled(guest) else 0
        if guest.status == "running":
            out["running-qemu"], out["running-machine"] = "9.2.0", "pc-i440fx-9.2+pve1"
    else:
        out["type"] = "lxc"
        out["maxswap"] = int(guest.config.get("swap", 512)) << 20
        out["swap"] = 0
        if guest.paused:
            out["status"] = "frozen" if guest.status == "running" else guest.status
    if guest.template:
        out["template"] = 1
    if guest.status == "running":
        out["pid"] = guest.pid
    if guest.lock:
        out["lock"] = guest.lock
    if guest.config.get("tags"):
        out["tags"] = guest.config["tags"]
    return out


def agent_enabled(guest: Guest) -> bool:
    """True when a qemu guest's ``agent`` option enables the guest agent."""
    first = str(guest.config.get("agent", "0")).split(",")[0]
    return first in ("1", "enabled=1", "true", "enabled=true")


def _cached(rt: Runtime, key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    """``build()`` memoised in ``rt.cache`` under ``key`` (the cache is emptied when it grows past 64)."""
    if key not in rt.cache:
        if len(rt.cache) > 64:
            rt.cache.clear()
        rt.cache[key] = build()
    return rt.cache[key]


def _node_aggregates(rt: Runtime) -> dict[str, tuple[int, float]]:
    t = rt.now()
    agg: dict[str, list[float]] = {n: [0, 0.0] for n in rt.state.nodes}
    for guest in rt.state.guests.values():
        if guest.status == "running" and guest.node in agg:
            use = metrics.guest_usage(rt.seed, guest, t, rt.config.metrics_interval)
            agg[guest.node][0] += use["mem"]
            agg[guest.node][1] += use["cpu"] * guest.cpus
    return {n: (int(v[0]), v[1]) for n, v in agg.items()}


def node_aggregates(rt: Runtime) -> dict[str, tuple[int, float]]:
    """Per node: (memory used by running guests, busy vCPUs), cached per state generation and time bucket."""
    return _cached(rt, ("nodeagg", rt.state.generation, _bucket(rt)), lambda: _node_aggregates(rt))


def node_entry(rt: Runtime, node: Node) -> dict[str, Any]:
    """A ``/nodes`` row (also the base of the node's /cluster/resources row)."""
    if not node.online:
        return {"node": node.name, "id": f"node/{node.name}", "type": "node", "status": "offline"}
    mem, cpu = node_aggregates(rt).get(node.name, (0, 0.0))
    use = metrics.node_usage(rt.seed, node, mem, cpu, rt.now(), rt.config.metrics_interval)
    return {
        "node": node.name,
        "id": f"node/{node.name}",
        "type": "node",
        "status": "online",
        "maxcpu": node.maxcpu,
        "maxmem": node.maxmem,
        "maxdisk": 100 << 30,
        "disk": 30 << 30,
        "level": "",
        "ssl_fingerprint": "",
        **use,
    }


def storage_entry(rt: Runtime, node: Node, storage: str) -> dict[str, Any]:
    """A storage row with usage summed from the node's volumes."""
    used = sum(v.size for (n, _), v in rt.state.volumes.items() if n == node.name and v.storage == storage)
    content = next(s[2] for s in STORAGES if s[0] == storage)
    return {
        "id": f"storage/{node.name}/{storage}",
        "type": "storage",
        "storage": storage,
        "node": node.name,
        "status": "available" if node.online else "unknown",
        "plugintype": STORAGE_TYPES[storage],
        "content": content,
        "shared": 0,
        "disk": used,
        "maxdisk": STORAGE_SIZE[storage],
    }


def guest_resource(rt: Runtime, guest: Guest, node_online: bool, pool: str | None, t: float) -> dict[str, Any]:
    """A /cluster/resources row for a guest."""
    use = metrics.guest_usage(rt.seed, guest, t, rt.config.metrics_interval)
    row: dict[str, Any] = {
        "id": f"{guest.kind}/{guest.vmid}",
        "type": guest.kind,
        "vmid": guest.vmid,
        "name": guest.name,
        "node": guest.node,
        "status": guest.status if node_online else "unknown",
        "template": guest.template,
        "maxcpu": guest.cpus,
        "maxmem": guest.maxmem,
        "maxdisk": guest.maxdisk,
        **use,
    }
    if pool:
        row["pool"] = pool
    if guest.config.get("tags"):
        row["tags"] = guest.config["tags"]
    if guest.lock:
        row["lock"] = guest.lock
    return row


def cluster_resources(rt: Runtime, type_: str | None) -> RawJson:
    """``/cluster/resources`` serialized once per (state generation, time bucket, type)."""
    return _cached(rt, ("resources", rt.state.generation, _bucket(rt), type_), lambda: _cluster_resources(rt, type_))


def _cluster_resources(rt: Runtime, type_: str | None) -> RawJson:
    state, t = rt.state, rt.now()
    rows: list[dict[str, Any]] = []
    if type_ in (None, "node"):
        rows.extend(node_entry(rt, n) for n in state.nodes.values())
    if type_ in (None, "storage"):
        rows.extend(storage_entry(rt, n, s[0]) for n in state.nodes.values() for s in STORAGES)
    if type_ in (None, "vm"):
        member = {vmid: p.poolid for p in state.pools.values() for vmid in p.vms}
        online = {n.name: n.online for n in state.nodes.values()}
        rows.extend(
            guest_resource(rt, g, online.get(g.node, False), member.get(g.vmid), t) for g in state.guests.values()
        )
    if type_ is None:
        rows.extend({"id": f"/pool/{p}", "type": "pool", "pool": p} for p in state.pools)
    return RawJson(json.dumps(rows, separators=(",", ":")).encode())
