"""``/storage`` and ``/nodes/{node}/storage``: storage definitions, usage and volume listings."""

from __future__ import annotations

from typing import Any

from .. import disks
from ..errors import NotFound, PveError
from ..model import STORAGE_CONTENT, STORAGES
from ..views import storage_entry
from . import Ctx, route


def _check_storage(storage: str) -> None:
    if storage not in STORAGE_CONTENT:
        raise PveError(500, f"storage '{storage}' does not exist")


@route("GET", "/storage")
def storage_config(ctx: Ctx, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Cluster-wide storage definitions."""
    out = [{"storage": s, "type": t, "content": c, "shared": 0, "digest": "0" * 40} for s, t, c, _ in STORAGES]
    return [o for o in out if not p.get("type") or o["type"] == p["type"]]


@route("GET", "/nodes/{node}/storage")
def node_storage(ctx: Ctx, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Storages of a node with usage."""
    node = ctx.rt.state.node(p["node"])
    out = []
    for s, t, c, _ in STORAGES:
        if p.get("storage") and p["storage"] != s:
            continue
        if p.get("content") and p["content"] not in c.split(","):
            continue
        e = storage_entry(ctx.rt, node, s)
        out.append(
            {
                "storage": s,
                "type": t,
                "content": c,
                "shared": 0,
                "active": 1,
                "enabled": 1,
                "total": e["maxdisk"],
                "used": e["disk"],
                "avail": e["maxdisk"] - e["disk"],
                "used_fraction": round(e["disk"] / e["maxdisk"], 6),
            }
        )
    return out


@route("GET", "/nodes/{node}/storage/{storage}/content")
def content_list(ctx: Ctx, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Volumes on one storage of a node (templates, ISOs, guest disks), filtered by content/vmid."""
    _check_storage(p["storage"])
    node, storage = p["node"], p["storage"]
    vmid = int(p["vmid"]) if p.get("vmid") else None
    return [
        v.entry()
        for (n, _), v in ctx.rt.state.volumes.items()
        if n == node
        and v.storage == storage
        and (not p.get("content") or v.content == p["content"])
        and (vmid is None or v.vmid == vmid)
    ]


def _volume(ctx: Ctx, p: dict[str, Any]) -> Any:
    _check_storage(p["storage"])
    volid = str(p["volume"])
    if ":" not in volid:
        volid = f"{p['storage']}:{volid}"
    vol = ctx.rt.state.volume(p["node"], volid)
    if vol is None or vol.storage != p["storage"]:
        raise NotFound(f"volume '{volid}' does not exist")
    return vol


@route("GET", "/nodes/{node}/storage/{storage}/content/{volume}")
def volume_info(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """Attributes of one volume (``format``, ``size``, ``used``, ``path``)."""
    vol = _volume(ctx, p)
    name = vol.volid.split(":", 1)[1]
    path = f"/dev/pve/{name}" if vol.storage == "local-lvm" else f"/var/lib/vz/{name}"
    return {"format": vol.format, "size": vol.size, "used": vol.size // 10, "path": path, "notes": ""}


@route("DELETE", "/nodes/{node}/storage/{storage}/content/{volume}")
def volume_delete(ctx: Ctx, p: dict[str, Any]) -> None:
    """Delete a volume unless a guest config still references it."""
    vol = _volume(ctx, p)
    if vol.vmid is not None and vol.vmid in ctx.rt.state.guests:
        guest = ctx.rt.state.guests[vol.vmid]
        if vol.volid in disks.referenced_volumes(guest) and not any(
            k.startswith("unused") and v == vol.volid for k, v in guest.config.items()
        ):
            raise PveError(
                500, f"unable to delete '{vol.volid}' - volume is still in use by {guest.label} {guest.vmid}"
            )
    ctx.rt.state.free_volumes(p["node"], [vol.volid])
    ctx.rt.state.changed()
