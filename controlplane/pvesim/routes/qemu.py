"""``/nodes/{node}/qemu``: the common guest routes plus the async config POST and the guest agent."""

from __future__ import annotations

from typing import Any

from .. import guestops
from ..errors import PveError
from ..views import agent_enabled
from . import Ctx, route
from .guests import register

register("qemu")


@route("POST", "/nodes/{node}/qemu/{vmid}/config")
def config_post(ctx: Ctx, p: dict[str, Any]) -> str:
    """Asynchronous config update: validated and applied as a ``qmconfig`` task."""
    rt = ctx.rt
    guest = rt.state.guest(int(p["vmid"]), "qemu", p["node"])
    guestops.ensure_unlocked(guest)
    digest = p.get("digest")
    if digest and digest != guest.digest:
        raise PveError(500, "detected modified configuration - file changed by other user? Try again.")
    return rt.tasks.submit(
        guest.node,
        "qmconfig",
        str(guest.vmid),
        ctx.user,
        vmid=guest.vmid,
        effect=lambda: guestops.update_config(rt, guest, {**p, "digest": None}, check_lock=False),
    )


@route("GET", "/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces")
def agent_interfaces(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """Guest agent view of the NICs (500 "not running" unless agent enabled and VM running)."""
    state = ctx.rt.state
    guest = state.guest(int(p["vmid"]), "qemu", p["node"])
    if guest.status != "running":
        raise PveError(500, f"VM {guest.vmid} is not running")
    if not agent_enabled(guest):
        raise PveError(500, "QEMU guest agent is not running")
    mac = "00:00:00:00:00:00"
    for key in sorted(k for k in guest.config if k.startswith("net")):
        mac = str(guest.config[key]).split(",")[0].split("=")[-1].lower()
        break
    ip = state.guest_ip(guest)
    return {
        "result": [
            {
                "name": "lo",
                "hardware-address": "00:00:00:00:00:00",
                "ip-addresses": [
                    {"ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 8},
                    {"ip-address": "::1", "ip-address-type": "ipv6", "prefix": 128},
                ],
            },
            {
                "name": "eth0",
                "hardware-address": mac,
                "ip-addresses": [{"ip-address": ip, "ip-address-type": "ipv4", "prefix": 24}],
            },
        ]
    }
