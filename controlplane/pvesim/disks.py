"""Disk and NIC values as PVE stores them: allocate ``STORAGE:SIZE`` volumes, normalize option order,
generate MAC addresses, and find the volumes a config references."""

from __future__ import annotations

import re
import zlib
from typing import Any

from . import propstring
from .errors import PveError
from .model import Guest
from .state import ClusterState

QEMU_DISK_RX = re.compile(r"(ide|sata|scsi|virtio)\d+|efidisk0|tpmstate0|unused\d+")
LXC_DISK_RX = re.compile(r"rootfs|mp\d+|unused\d+")
NET_RX = re.compile(r"net\d+")
_NEW_RX = re.compile(r"([a-z][a-z0-9\-_.]*[a-z0-9]):(\d+(?:\.\d+)?)")


def is_disk_key(kind: str, key: str) -> bool:
    """True for config keys that hold a volume (``scsi0``, ``rootfs``, ``mp1``, ``unused0``...)."""
    return bool((QEMU_DISK_RX if kind == "qemu" else LXC_DISK_RX).fullmatch(key))


def volume_of(value: Any) -> str | None:
    """The volume id at the start of a disk value (None for ``none``/``cdrom``/non-volumes)."""
    if not isinstance(value, str):
        return None
    first = propstring.parse(value, "file" if "volume=" not in value else "volume")
    vol = first.get("file") or first.get("volume") or ""
    return vol if ":" in vol else None


def mac_for(seed: int, vmid: int, key: str, salt: int = 0) -> str:
    """A deterministic unicast MAC in Proxmox's ``BC:24:11`` range."""
    n = zlib.crc32(f"{seed}:{vmid}:{key}:{salt}".encode())
    return "BC:24:11:" + ":".join(f"{(n >> s) & 255:02X}" for s in (16, 8, 0))


def normalize_disk(state: ClusterState, guest: Guest, key: str, value: str) -> str:
    """Turn a requested disk value into the stored form, allocating a volume for ``STORAGE:SIZE``."""
    lxc = guest.kind == "lxc"
    main = "volume" if lxc else "file"
    items = propstring.parse(value, main)
    vol = items.pop(main, "")
    items.pop("format", None)
    items.pop("import-from", None)
    m = _NEW_RX.fullmatch(vol)
    if m and not key.startswith("unused"):
        storage, size = m.group(1), int(float(m.group(2)) * (1 << 30))
        state.storage_check(guest.node, storage, "rootdir" if lxc else "images")
        if size == 0 and not lxc:
            raise PveError(500, f"{key}: size 0 needs 'import-from'")
        fmt = "raw" if lxc else "qcow2"
        new = state.alloc_volume(guest.node, storage, guest.vmid, size, "rootdir" if lxc else "images", fmt=fmt)
        vol, items["size"] = new.volid, propstring.format_size(size)
    elif vol.endswith(":cloudinit"):
        storage = vol.split(":", 1)[0]
        state.storage_check(guest.node, storage, "images")
        vol = state.alloc_volume(
            guest.node, storage, guest.vmid, 4 << 20, "images", name=f"vm-{guest.vmid}-cloudinit"
        ).volid
        items["media"] = "cdrom"
    elif ":" in vol:
        existing = state.volume(guest.node, vol)
        if existing is not None and existing.content in ("images", "rootdir"):
            items["size"] = propstring.format_size(existing.size)
    rest = dict(sorted(items.items()))
    return propstring.render({main: vol, **rest}, first=main)


def normalize_net(seed: int, guest: Guest, key: str, value: str, fmt: dict[str, Any]) -> str:
    """Stored NIC form: ``virtio=MAC,bridge=...`` for qemu, ``name=eth0,bridge=..,hwaddr=..`` for lxc."""
    if guest.kind == "qemu":
        items = propstring.resolve_aliases(propstring.parse(value, "model"), fmt)
        model = items.pop("model", "virtio")
        mac = items.pop("macaddr", None) or mac_for(seed, guest.vmid, key, guest.generation)
        return propstring.render({model: mac.upper(), **dict(sorted(items.items()))})
    items = propstring.parse(value)
    name = items.pop("name", "eth0")
    items.setdefault("hwaddr", mac_for(seed, guest.vmid, key, guest.generation))
    items["hwaddr"] = items["hwaddr"].upper()
    items.setdefault("type", "veth")
    return propstring.render({"name": name, **dict(sorted(items.items()))})


def referenced_volumes(guest: Guest) -> list[str]:
    """Volume ids the guest's config refers to (disks and unused entries, not ISOs)."""
    out = []
    for key, value in guest.config.items():
        if is_disk_key(guest.kind, key):
            vol = volume_of(value)
            if vol and "iso/" not in vol and "vztmpl/" not in vol:
                out.append(vol)
    return out


def next_unused(guest: Guest) -> str:
    """The first free ``unusedN`` key."""
    n = 0
    while f"unused{n}" in guest.config:
        n += 1
    return f"unused{n}"
