"""Cloning guests and managing their snapshots."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from . import disks, propstring
from .errors import PveError
from .guestops import TASK, ensure_unlocked
from .model import Guest
from .runtime import Runtime


def clone(rt: Runtime, src: Guest, params: dict[str, Any], user: str) -> str:
    """``POST .../clone``: new guest ``newid``: copied config, fresh volumes and MACs, locked."""
    state, newid = rt.state, int(params["newid"])
    ensure_unlocked(src)
    if newid in state.guests:
        raise PveError(500, f"unable to create {src.label} {newid}: config file already exists")
    target = str(params.get("target") or src.node)
    state.node(target)
    pool = params.get("pool")
    if pool and pool not in state.pools:
        raise PveError(500, f"pool '{pool}' does not exist")
    config = copy.deepcopy(src.config)
    config.pop("template", None)
    for key in [k for k in config if k.startswith("unused")]:
        config.pop(key)
    new = Guest(newid, src.kind, target, config, lock="clone")
    if src.kind == "qemu":
        config["name"] = params.get("name") or f"Copy-of-VM-{src.name}"
        config["vmgenid"] = str(uuid.UUID(int=(rt.seed << 80) + newid))
        config["smbios1"] = f"uuid={uuid.UUID(int=(rt.seed << 64) + newid)}"
    else:
        config["hostname"] = params.get("hostname") or src.name
    if params.get("description") is not None:
        config["description"] = params["description"]
    main = "file" if src.kind == "qemu" else "volume"
    for key, value in list(config.items()):
        if disks.is_disk_key(src.kind, key):
            vol_id = disks.volume_of(value)
            vol = state.volume(src.node, vol_id) if vol_id else None
            if vol is None or vol.vmid is None:
                continue
            items = propstring.parse(str(value), main)
            storage = str(params.get("storage") or vol.storage)
            state.storage_check(target, storage, "images" if src.kind == "qemu" else "rootdir")
            fresh = state.alloc_volume(target, storage, newid, vol.size, vol.content, fmt=vol.format)
            items[main] = fresh.volid
            config[key] = propstring.render(items, first=main)
        elif disks.NET_RX.fullmatch(key) and isinstance(value, str):
            items = propstring.parse(value)
            if src.kind == "qemu":
                model = next(iter(items))
                items[model] = disks.mac_for(rt.seed, newid, key)
            else:
                items["hwaddr"] = disks.mac_for(rt.seed, newid, key)
            config[key] = propstring.render(items)
    state.guests[newid] = new
    if pool:
        state.pools[pool].vms.add(newid)
    state.changed(new)

    def on_fail() -> None:
        if state.guests.get(newid) is new:
            state.delete_guest(newid)

    return rt.tasks.submit(
        src.node, f"{TASK[src.kind]}clone", str(src.vmid), user, vmid=newid, lock="clone", on_fail=on_fail
    )


def snapshot_list(rt: Runtime, guest: Guest) -> list[dict[str, Any]]:
    """``GET .../snapshot``: the snapshots plus the ``current`` pseudo-entry."""
    out = [dict(s) for s in guest.snapshots]
    current: dict[str, Any] = {
        "name": "current",
        "description": "You are here!",
        "running": 1 if guest.status == "running" else 0,
        "digest": guest.digest,
    }
    if guest.snapshots:
        current["parent"] = guest.snapshots[-1]["name"]
    return [*out, current]


def snapshot_create(rt: Runtime, guest: Guest, params: dict[str, Any], user: str) -> str:
    """``POST .../snapshot``: record a named snapshot (locked ``snapshot`` while the task runs)."""
    ensure_unlocked(guest)
    name = str(params["snapname"])
    if name == "current" or any(s["name"] == name for s in guest.snapshots):
        raise PveError(500, f"snapshot name '{name}' already used")
    entry: dict[str, Any] = {
        "name": name,
        "description": str(params.get("description", "")),
        "snaptime": int(rt.now()),
    }
    if guest.kind == "qemu":
        entry["vmstate"] = int(params.get("vmstate") or 0)
    if guest.snapshots:
        entry["parent"] = guest.snapshots[-1]["name"]

    def effect() -> None:
        guest.snapshots.append(entry)
        rt.state.changed(guest)

    return rt.tasks.submit(
        guest.node,
        f"{TASK[guest.kind]}snapshot",
        str(guest.vmid),
        user,
        vmid=guest.vmid,
        lock="snapshot",
        effect=effect,
    )
