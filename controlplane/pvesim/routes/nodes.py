"""``/nodes``: node list, node status, network configuration and node rrddata."""

from __future__ import annotations

from typing import Any

from .. import metrics
from ..views import node_entry
from . import Ctx, route


@route("GET", "/nodes")
def node_list(ctx: Ctx, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node with status and usage."""
    return [node_entry(ctx.rt, n) for n in ctx.rt.state.nodes.values()]


@route("GET", "/nodes/{node}/status")
def node_status(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """Detailed status of one node."""
    node = ctx.rt.state.node(p["node"])
    entry = node_entry(ctx.rt, node)
    return {
        "cpu": entry.get("cpu", 0),
        "uptime": entry.get("uptime", 0),
        "loadavg": ["0.42", "0.38", "0.35"],
        "wait": 0.001,
        "idle": 0,
        "kversion": "Linux 6.14.8-2-pve #1 SMP PREEMPT_DYNAMIC",
        "pveversion": "pve-manager/9.1.3/pvesim",
        "boot-info": {"mode": "efi", "secureboot": 0},
        "cpuinfo": {
            "cpus": node.maxcpu,
            "cores": node.maxcpu // 2,
            "sockets": 1,
            "model": "pvesim vCPU",
            "mhz": "2400.000",
            "hvm": "1",
            "flags": "fpu vme de pse",
        },
        "memory": {
            "total": node.maxmem,
            "used": entry.get("mem", 0),
            "free": node.maxmem - entry.get("mem", 0),
            "available": node.maxmem - entry.get("mem", 0),
        },
        "swap": {"total": 8 << 30, "used": 0, "free": 8 << 30},
        "rootfs": {"total": 100 << 30, "used": 30 << 30, "avail": 70 << 30, "free": 70 << 30},
        "ksm": {"shared": 0},
        "current-kernel": {
            "sysname": "Linux",
            "release": "6.14.8-2-pve",
            "machine": "x86_64",
            "version": "#1 SMP",
        },
    }


@route("GET", "/nodes/{node}/network")
def node_network(ctx: Ctx, p: dict[str, Any]) -> list[dict[str, Any]]:
    """The node's interfaces: a physical NIC and the ``vmbr0`` bridge carrying its address."""
    node = ctx.rt.state.node(p["node"])
    ifaces = [
        {
            "iface": "eno1",
            "type": "eth",
            "active": 1,
            "autostart": 1,
            "method": "manual",
            "families": ["inet"],
            "priority": 1,
        },
        {
            "iface": "vmbr0",
            "type": "bridge",
            "active": 1,
            "autostart": 1,
            "method": "static",
            "families": ["inet"],
            "address": node.ip,
            "netmask": "24",
            "cidr": f"{node.ip}/24",
            "gateway": "192.0.2.1",
            "bridge_ports": "eno1",
            "bridge_stp": "off",
            "bridge_fd": "0",
            "priority": 2,
        },
    ]
    if p.get("type"):
        want = p["type"]
        ifaces = [i for i in ifaces if i["type"] == want or (want == "any_bridge" and i["type"] == "bridge")]
    return ifaces


@route("GET", "/nodes/{node}/rrddata")
def node_rrddata(ctx: Ctx, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Node metrics over ``timeframe``."""
    node = ctx.rt.state.node(p["node"])
    return metrics.rrd_series(
        ctx.rt.seed,
        f"n{node.name}",
        p["timeframe"],
        ctx.rt.now(),
        node.maxmem,
        node.maxcpu,
        100 << 30,
        node=True,
    )
