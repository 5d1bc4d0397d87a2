"""``/nodes/{node}/lxc``: the common guest routes plus container network interfaces."""

from __future__ import annotations

from typing import Any

from .. import propstring
from ..errors import PveError
from . import Ctx, route
from .guests import register

register("lxc")


@route("GET", "/nodes/{node}/lxc/{vmid}/interfaces")
def interfaces(ctx: Ctx, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Interfaces of a running container with its reported IPv4 address on the first NIC."""
    state = ctx.rt.state
    guest = state.guest(int(p["vmid"]), "lxc", p["node"])
    if guest.status != "running":
        raise PveError(500, f"CT {guest.vmid} not running")
    out: list[dict[str, Any]] = [
        {
            "name": "lo",
            "hwaddr": "00:00:00:00:00:00",
            "hardware-address": "00:00:00:00:00:00",
            "inet": "127.0.0.1/8",
            "inet6": "::1/128",
            "ip-addresses": [{"ip-address": "127.0.0.1", "ip-address-type": "inet", "prefix": 8}],
        }
    ]
    nets = sorted((k for k in guest.config if k.startswith("net")), key=lambda k: int(k[3:]))
    for i, key in enumerate(nets):
        items = propstring.parse(str(guest.config[key]))
        mac = items.get("hwaddr", "00:00:00:00:00:00").lower()
        row: dict[str, Any] = {
            "name": items.get("name", f"eth{i}"),
            "hwaddr": mac,
            "hardware-address": mac,
            "ip-addresses": [],
        }
        if i == 0:
            ip = state.guest_ip(guest)
            row["inet"] = f"{ip}/24"
            row["ip-addresses"] = [{"ip-address": ip, "ip-address-type": "inet", "prefix": 24}]
        out.append(row)
    return out
