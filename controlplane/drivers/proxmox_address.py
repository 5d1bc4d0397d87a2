"""The IPv4 address a running guest reports to Proxmox VE: the QEMU guest agent's view of a VM's NICs
(``agent/network-get-interfaces``) or a container's interfaces (``lxc/<vmid>/interfaces``).

The loopback interface is skipped by name, not by address: a test host may well live on 127.x.y.z.
Errors are translated by :func:`controlplane.drivers.proxmox_observe.call` (a stopped guest or one
without a running agent answers 500, which becomes a TemporaryError).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from controlplane.drivers.proxmox_observe import API_OF_KIND, ProxmoxAccess, call


def _first_ipv4(interfaces: list[dict[str, Any]]) -> str | None:
    for iface in interfaces:
        if iface.get("name") == "lo":
            continue
        for addr in iface.get("ip-addresses") or []:
            if addr.get("ip-address-type") not in ("ipv4", "inet"):
                continue
            try:
                return str(ipaddress.IPv4Address(str(addr.get("ip-address", ""))))
            except ValueError:
                continue
    return None


def guest_ipv4(access: ProxmoxAccess, kind: str, node: str, vmid: int) -> str | None:
    """The first IPv4 address of the guest's first non-loopback interface that has one (None: none yet)."""
    api = API_OF_KIND[kind]
    guest = getattr(access.client().nodes(node), api)(vmid)
    if api == "qemu":
        data = call(f"reading the guest agent's interfaces of {vmid}",
                    lambda: guest.agent("network-get-interfaces").get(), attempts=2)
        interfaces = (data or {}).get("result") or []
    else:
        interfaces = call(f"reading the interfaces of {vmid}", lambda: guest.interfaces.get(), attempts=2) or []
    return _first_ipv4(list(interfaces))
