"""Guest life-cycle operations behind the qemu and lxc routes: create, configure, delete, clone,
template, resize and snapshot, with PVE's lock, digest and uniqueness rules."""

from __future__ import annotations

import re
import uuid
from typing import Any

from . import disks, propstring
from .errors import PveError
from .model import Guest
from .runtime import Runtime

NON_CONFIG = {
    "qemu": {
        "node",
        "vmid",
        "pool",
        "start",
        "storage",
        "archive",
        "force",
        "unique",
        "live-restore",
        "bwlimit",
        "import-working-storage",
        "ha-managed",
    },
    "lxc": {
        "node",
        "vmid",
        "ostemplate",
        "password",
        "ssh-public-keys",
        "storage",
        "start",
        "force",
        "restore",
        "unique",
        "pool",
        "ignore-unpack-errors",
        "bwlimit",
        "ha-managed",
    },
}
UPDATE_CONTROL = {"node", "vmid", "delete", "digest", "revert", "skiplock", "force", "background_delay"}
TASK = {"qemu": "qm", "lxc": "vz"}


def ensure_unlocked(guest: Guest) -> None:
    """500 like PVE when the guest has a config lock or a task holds its lock file."""
    if guest.lock:
        raise PveError(500, f"{guest.label} {guest.vmid} is locked ({guest.lock})")
    if guest.busy:
        path = (
            f"/var/lock/qemu-server/lock-{guest.vmid}.conf"
            if guest.kind == "qemu"
            else f"/run/lock/lxc/pve-config-{guest.vmid}.lock"
        )
        raise PveError(500, f"can't lock file '{path}' - got timeout")


def _apply_settings(rt: Runtime, guest: Guest, settings: dict[str, Any], endpoint_fmt: Any) -> None:
    for key, value in settings.items():
        if disks.is_disk_key(guest.kind, key) and not key.startswith("unused"):
            old = disks.volume_of(guest.config.get(key))
            value = disks.normalize_disk(rt.state, guest, key, str(value))
            if old and old != disks.volume_of(value):
                guest.config[disks.next_unused(guest)] = old
        elif disks.NET_RX.fullmatch(key):
            spec = endpoint_fmt(key) or {}
            value = disks.normalize_net(rt.seed, guest, key, str(value), spec.get("format") or {})
        elif key == "tags" and not (guest.kind == "qemu" and guest.lock == "create"):
            value = unique_tags(str(value))  # qemu's create stores tags verbatim, every other path normalises
        guest.config[key] = value


def unique_tags(text: str) -> str:
    """PVE's tag normalisation (default tag style): split on ``;``, ``,`` or blanks, lower-case, sort,
    drop duplicates, join with ``;``."""
    return ";".join(sorted({t.lower() for t in re.split(r"[;,\s]+", text) if t}))


def _spec_lookup(rt: Runtime, kind: str):  # type: ignore[no-untyped-def]
    endpoint = rt.schema.endpoint("POST", f"/nodes/{{node}}/{kind}")
    return (lambda key: endpoint.spec_for(key)) if endpoint else (lambda key: None)


def create(rt: Runtime, kind: str, node: str, params: dict[str, Any], user: str) -> str:
    """``POST /nodes/{node}/{qemu|lxc}``: register the guest locked ``create`` and start a create task."""
    state, vmid = rt.state, int(params["vmid"])
    if vmid in state.guests:
        other = state.guests[vmid]
        raise PveError(
            500,
            f"unable to create {'VM' if kind == 'qemu' else 'CT'} {vmid} - "
            f"{other.label} {vmid} already exists on node '{other.node}'",
        )
    pool = params.get("pool")
    if pool and pool not in state.pools:
        raise PveError(500, f"pool '{pool}' does not exist")
    guest = Guest(vmid, kind, node, {}, lock="create")
    settings = {k: v for k, v in params.items() if k not in NON_CONFIG[kind]}
    if kind == "qemu":
        guest.config.update(
            {
                "smbios1": f"uuid={uuid.UUID(int=(rt.seed << 64) + vmid)}",
                "vmgenid": str(uuid.UUID(int=(rt.seed << 80) + vmid)),
                "meta": f"creation-qemu=9.2.0,ctime={int(rt.now())}",
            }
        )
    else:
        template = str(params["ostemplate"])
        if state.volume(node, template) is None:
            raise PveError(500, f"volume '{template}' does not exist")
        ostype = next(
            (os for os in ("debian", "ubuntu", "alpine", "centos", "fedora", "archlinux") if f"/{os}" in template),
            "unmanaged",
        )
        guest.config.update({"arch": "amd64", "hostname": f"CT{vmid}", "ostype": ostype})
        settings.setdefault("rootfs", f"{params.get('storage', 'local')}:4")
    try:
        _apply_settings(rt, guest, settings, _spec_lookup(rt, kind))
    except PveError:
        state.free_volumes(node, state.guest_volumes(node, vmid))
        raise
    state.guests[vmid] = guest
    if pool:
        state.pools[pool].vms.add(vmid)
    state.changed(guest)

    def on_fail() -> None:
        if state.guests.get(vmid) is guest:
            state.delete_guest(vmid)

    def effect() -> None:
        if params.get("start"):
            from .power import do_start

            do_start(rt, guest)

    return rt.tasks.submit(
        node, f"{TASK[kind]}create", str(vmid), user, vmid=vmid, lock="create", effect=effect, on_fail=on_fail
    )


def update_config(rt: Runtime, guest: Guest, params: dict[str, Any], check_lock: bool = True) -> None:
    """``PUT .../config``: digest check, ``delete=`` keys (disks move to ``unusedN``), set the rest."""
    if check_lock:
        ensure_unlocked(guest)
    digest = params.get("digest")
    if digest and digest != guest.digest:
        raise PveError(500, "detected modified configuration - file changed by other user? Try again.")
    for key in re.split(r"[,;\s]+", str(params.get("delete") or "").strip()):
        if not key or key not in guest.config:
            continue
        value = guest.config.pop(key)
        vol = disks.volume_of(value) if disks.is_disk_key(guest.kind, key) else None
        if vol and key.startswith("unused"):
            rt.state.free_volumes(guest.node, [vol])
        elif vol and rt.state.volume(guest.node, vol) is not None:
            guest.config[disks.next_unused(guest)] = vol
    settings = {k: v for k, v in params.items() if k not in UPDATE_CONTROL}
    _apply_settings(rt, guest, settings, _spec_lookup(rt, guest.kind))
    rt.state.changed(guest)


def delete(rt: Runtime, guest: Guest, params: dict[str, Any], user: str) -> str:
    """``DELETE /nodes/{node}/{kind}/{vmid}``: refuse running (unless a container with ``force``, which is
    stopped first) or protected guests, else destroy."""
    ensure_unlocked(guest)
    force = guest.kind == "lxc" and bool(params.get("force"))
    if guest.status == "running" and not force:
        if guest.kind == "lxc":
            raise PveError(500, f"unable to destroy CT {guest.vmid} - container is running")
        raise PveError(500, f"{guest.label} {guest.vmid} is running - destroy failed")
    if guest.config.get("protection"):
        raise PveError(500, f"can't remove {guest.label} {guest.vmid} - protection mode enabled")
    state = rt.state

    def effect() -> None:
        if state.guests.get(guest.vmid) is not guest:
            return
        guest.mark_stopped()
        owned = state.guest_volumes(guest.node, guest.vmid)
        keep_unreferenced = guest.kind == "qemu" and not params.get("destroy-unreferenced-disks")
        referenced = set(disks.referenced_volumes(guest))
        state.free_volumes(guest.node, [v for v in owned if v in referenced or not keep_unreferenced])
        del state.guests[guest.vmid]
        for pool in state.pools.values():
            pool.vms.discard(guest.vmid)
        state.changed()

    return rt.tasks.submit(
        guest.node, f"{TASK[guest.kind]}destroy", str(guest.vmid), user, vmid=guest.vmid, effect=effect
    )


def resize(rt: Runtime, guest: Guest, params: dict[str, Any], user: str) -> str:
    """``PUT .../resize``: grow a disk (``+1G`` or absolute), never shrink."""
    ensure_unlocked(guest)
    key = str(params["disk"])
    value = guest.config.get(key)
    vol_id = disks.volume_of(value)
    if not vol_id:
        raise PveError(500, f"unable to parse drive options for '{key}'" if value else f"disk '{key}' does not exist")
    vol = rt.state.volume(guest.node, vol_id)
    current = vol.size if vol else propstring.parse_size(propstring.parse(str(value), "file").get("size", "0"))
    text = str(params["size"])
    new = current + propstring.parse_size(text[1:]) if text.startswith("+") else propstring.parse_size(text)
    if new < current:
        raise PveError(500, "shrinking disks is not supported")
    main = "volume" if guest.kind == "lxc" else "file"
    items = propstring.parse(str(value), main)
    items["size"] = propstring.format_size(new)

    def effect() -> None:
        if vol is not None:
            vol.size = new
        guest.config[key] = propstring.render({main: items.pop(main), **items}, first=main)
        rt.state.changed(guest)

    return rt.tasks.submit(guest.node, "resize", str(guest.vmid), user, vmid=guest.vmid, effect=effect)


def make_template(rt: Runtime, guest: Guest, user: str) -> str:
    """``POST .../template``: convert a stopped guest; lvm volumes are renamed ``base-<vmid>-disk-<n>``."""
    ensure_unlocked(guest)
    if guest.status == "running":
        raise PveError(500, f"you can't convert a running {guest.label} to a template")
    state = rt.state

    def effect() -> None:
        for key, value in list(guest.config.items()):
            vol_id = disks.volume_of(value) if disks.is_disk_key(guest.kind, key) else None
            vol = state.volume(guest.node, vol_id) if vol_id else None
            if vol is None or ":vm-" not in vol.volid:
                continue
            new_id = vol.volid.replace(":vm-", ":base-", 1)
            state.volumes.pop((guest.node, vol.volid))
            vol.volid = new_id
            state.volumes[(guest.node, new_id)] = vol
            guest.config[key] = str(value).replace(vol_id, new_id, 1)  # type: ignore[arg-type]
        guest.config["template"] = 1
        state.changed(guest)

    return rt.tasks.submit(
        guest.node, f"{TASK[guest.kind]}template", str(guest.vmid), user, vmid=guest.vmid, effect=effect
    )
