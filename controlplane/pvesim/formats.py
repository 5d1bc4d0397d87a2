"""Checks for the named string formats of the PVE schema (``pve-node``, ``pve-storage-id``, ...).

Only cheap, commonly hit formats are checked; unknown format names are accepted as PVE's simulator
stand-in cannot know every registered format.
"""

from __future__ import annotations

import ipaddress
import re

_NAME = r"[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?"
_RX: dict[str, tuple[re.Pattern[str], str]] = {
    "pve-node": (re.compile(_NAME), "value does not look like a valid node name"),
    "dns-name": (re.compile(rf"({_NAME}\.)*{_NAME}"), "value does not look like a valid DNS name"),
    "pve-storage-id": (
        re.compile(r"[a-z][a-z0-9\-_.]*[a-z0-9]"),
        "storage ID '{v}' contains illegal characters",
    ),
    "pve-configid": (re.compile(r"[a-z][a-z0-9_-]+", re.I), "invalid configuration ID '{v}'"),
    "pve-poolid": (re.compile(r"[A-Za-z0-9.\-_/]+"), "invalid pool ID '{v}'"),
    "mac-addr": (
        re.compile(r"[a-f0-9][02468ace](:[a-f0-9]{2}){5}", re.I),
        "value does not look like a valid unicast MAC address",
    ),
    "pve-bridge-id": (re.compile(r"[-_.\w\d]+"), "invalid bridge ID '{v}'"),
    "pve-userid": (
        re.compile(r"[^\s:/]+@[A-Za-z][A-Za-z0-9.\-_]+"),
        "value '{v}' does not look like a valid user name",
    ),
    "pve-realm": (re.compile(r"[A-Za-z][A-Za-z0-9.\-_]+"), "value '{v}' does not look like a valid realm"),
    "pve-volume-id": (re.compile(r"[a-z][a-z0-9\-_.]*[a-z0-9]:.+"), "unable to parse volume ID '{v}'"),
    "pve-tag": (re.compile(r"[a-z0-9_][a-z0-9_\-+.]*", re.I), "invalid tag '{v}'"),
}
_LISTS = {
    "pve-configid-list": "pve-configid",
    "pve-tag-list": "pve-tag",
    "pve-node-list": "pve-node",
    "pve-storage-id-list": "pve-storage-id",
}


def check(fmt: str, value: str) -> None:
    """Raise ValueError with PVE's wording when ``value`` does not satisfy the named format ``fmt``."""
    if fmt in _LISTS:
        for item in re.split(r"[,;\s]+", value.strip()):
            if item:
                check(_LISTS[fmt], item)
        return
    if fmt in ("pve-vmid-list",):
        for item in re.split(r"[,;\s]+", value.strip()):
            if item and not item.isdigit():
                raise ValueError(f"value '{item}' does not look like a valid VM ID")
        return
    if fmt in ("ipv4", "ipv6", "ip"):
        try:
            addr = ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(f"value does not look like a valid {fmt.upper()} address") from None
        if (fmt == "ipv4" and addr.version != 4) or (fmt == "ipv6" and addr.version != 6):
            raise ValueError(f"value does not look like a valid {fmt.upper()} address")
        return
    rule = _RX.get(fmt)
    if rule and not rule[0].fullmatch(value):
        raise ValueError(rule[1].format(v=value))
