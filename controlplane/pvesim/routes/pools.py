"""``/pools``: resource pools (list, ``?poolid=`` detail, path form, create, update, delete)."""

from __future__ import annotations

import re
from typing import Any

from ..errors import PveError
from ..model import Pool
from ..views import guest_status
from . import Ctx, route


def _pool(ctx: Ctx, poolid: str) -> Pool:
    pool = ctx.rt.state.pools.get(poolid)
    if pool is None:
        raise PveError(500, f"pool '{poolid}' does not exist")
    return pool


def _detail(ctx: Ctx, pool: Pool) -> dict[str, Any]:
    members: list[dict[str, Any]] = []
    for vmid in sorted(pool.vms):
        guest = ctx.rt.state.guests.get(vmid)
        if guest is None:
            continue
        row = guest_status(ctx.rt, guest)
        row.update({"id": f"{guest.kind}/{vmid}", "type": guest.kind, "node": guest.node, "template": guest.template})
        members.append(row)
    for storage in sorted(pool.storage):
        for node in ctx.rt.state.nodes:
            members.append({"id": f"storage/{node}/{storage}", "type": "storage", "storage": storage, "node": node})
    return {"poolid": pool.poolid, "comment": pool.comment, "members": members}


@route("GET", "/pools")
def pool_list(ctx: Ctx, p: dict[str, Any]) -> list[dict[str, Any]]:
    """All pools, or ``[detail]`` of one with ``poolid=``."""
    if p.get("poolid"):
        return [_detail(ctx, _pool(ctx, p["poolid"]))]
    return [{"poolid": pl.poolid, "comment": pl.comment} for pl in ctx.rt.state.pools.values()]


@route("POST", "/pools")
def pool_create(ctx: Ctx, p: dict[str, Any]) -> None:
    """Create an empty pool."""
    state = ctx.rt.state
    if p["poolid"] in state.pools:
        raise PveError(500, f"create pool failed: pool '{p['poolid']}' already exists")
    state.pools[p["poolid"]] = Pool(p["poolid"], str(p.get("comment", "")))
    state.changed()


def _update(ctx: Ctx, p: dict[str, Any]) -> None:
    state = ctx.rt.state
    pool = _pool(ctx, p["poolid"])
    if "comment" in p:
        pool.comment = str(p["comment"])
    removing = bool(p.get("delete"))
    for item in re.split(r"[,;\s]+", str(p.get("vms") or "").strip()):
        if not item:
            continue
        vmid = int(item)
        if removing:
            pool.vms.discard(vmid)
            continue
        if vmid not in state.guests:
            raise PveError(500, f"no such VM ID '{vmid}'")
        other = next((o for o in state.pools.values() if vmid in o.vms and o is not pool), None)
        if other is not None:
            if not p.get("allow-move"):
                raise PveError(500, f"VM {vmid} belongs already to pool '{other.poolid}'")
            other.vms.discard(vmid)
        pool.vms.add(vmid)
    for item in re.split(r"[,;\s]+", str(p.get("storage") or "").strip()):
        if item:
            (pool.storage.discard if removing else pool.storage.add)(item)
    state.changed()


def _delete(ctx: Ctx, poolid: str) -> None:
    pool = _pool(ctx, poolid)
    if pool.vms or pool.storage:
        raise PveError(500, f"delete pool failed: pool '{poolid}' is not empty")
    del ctx.rt.state.pools[poolid]
    ctx.rt.state.changed()


@route("PUT", "/pools")
def pool_update(ctx: Ctx, p: dict[str, Any]) -> None:
    """Update comment and members (``vms``/``storage``, ``delete=1`` removes them)."""
    _update(ctx, p)


@route("DELETE", "/pools")
def pool_delete(ctx: Ctx, p: dict[str, Any]) -> None:
    """Delete an empty pool."""
    _delete(ctx, p["poolid"])


@route("GET", "/pools/{poolid}")
def pool_get(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """Pool detail with members (``comment`` and ``members`` only: the path already names the pool)."""
    detail = _detail(ctx, _pool(ctx, p["poolid"]))
    del detail["poolid"]
    return detail


@route("PUT", "/pools/{poolid}")
def pool_update_path(ctx: Ctx, p: dict[str, Any]) -> None:
    """Path form of the pool update."""
    _update(ctx, p)


@route("DELETE", "/pools/{poolid}")
def pool_delete_path(ctx: Ctx, p: dict[str, Any]) -> None:
    """Path form of the pool delete."""
    _delete(ctx, p["poolid"])
