"""``/version`` and ``/cluster``: version, cluster status, resources and the next free vmid."""

from __future__ import annotations

from typing import Any

from ..errors import ParamError
from ..views import RawJson, cluster_resources
from . import Ctx, route

VERSION = {"version": "9.1.3", "release": "9.1", "repoid": "pvesim00", "console": "xtermjs"}


@route("GET", "/version")
def version(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """The PVE version the simulator claims to be."""
    return dict(VERSION)


@route("GET", "/cluster/status")
def cluster_status(ctx: Ctx, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Cluster and node membership/quorum information."""
    nodes = list(ctx.rt.state.nodes.values())
    out: list[dict[str, Any]] = [
        {
            "type": "cluster",
            "id": "cluster",
            "name": "pvesim",
            "nodes": len(nodes),
            "quorate": 1,
            "version": len(nodes),
        }
    ]
    for n in nodes:
        out.append(
            {
                "type": "node",
                "id": f"node/{n.name}",
                "name": n.name,
                "nodeid": n.index,
                "ip": n.ip,
                "online": 1 if n.online else 0,
                "local": 1 if n.index == 1 else 0,
                "level": "",
            }
        )
    return out


@route("GET", "/cluster/resources")
def resources(ctx: Ctx, p: dict[str, Any]) -> RawJson:
    """All nodes, storages, guests and pools (or one ``type``)."""
    return cluster_resources(ctx.rt, p.get("type"))


@route("GET", "/cluster/nextid")
def nextid(ctx: Ctx, p: dict[str, Any]) -> str:
    """The next free vmid as a string; with ``vmid``, 400 "already exists" if it is taken."""
    state = ctx.rt.state
    if "vmid" in p:
        if int(p["vmid"]) in state.guests:
            raise ParamError({"vmid": f"VM {p['vmid']} already exists"})
        return str(p["vmid"])
    return str(state.next_vmid())
