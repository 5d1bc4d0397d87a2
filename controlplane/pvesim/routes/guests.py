"""Handlers shared by ``/nodes/{node}/qemu`` and ``/nodes/{node}/lxc``; :func:`register` mounts them
for one guest kind."""

from __future__ import annotations

from typing import Any

from .. import clone as cloneops
from .. import guestops, metrics, power
from ..model import Guest
from ..views import guest_status
from . import Ctx, route


def _guest(ctx: Ctx, p: dict[str, Any], kind: str) -> Guest:
    return ctx.rt.state.guest(int(p["vmid"]), kind, p["node"])


def _config(guest: Guest) -> dict[str, Any]:
    out = dict(guest.config)
    description = out.get("description")
    if guest.kind == "lxc" and description and not str(description).endswith("\n"):
        # PVE keeps a container's description as comment lines of its config and prints it back with each
        # line's newline (a VM's is trimmed); the bpg provider expects exactly that.
        out["description"] = f"{description}\n"
    out["digest"] = guest.digest
    if guest.lock:
        out["lock"] = guest.lock
    return out


def register(kind: str) -> None:
    """Register the common guest routes under ``/nodes/{node}/<kind>``."""
    base = f"/nodes/{{node}}/{kind}"
    one = f"{base}/{{vmid}}"

    @route("GET", base)
    def guest_list(ctx: Ctx, p: dict[str, Any]) -> list[dict[str, Any]]:
        """Guests of this kind on the node."""
        ctx.rt.state.node(p["node"])
        out = []
        for g in ctx.rt.state.guests_on(p["node"], kind):
            row = guest_status(ctx.rt, g)
            row["template"] = g.template
            out.append(row)
        return out

    @route("POST", base)
    def guest_create(ctx: Ctx, p: dict[str, Any]) -> str:
        """Create a guest (task ``qmcreate``/``vzcreate``)."""
        return guestops.create(ctx.rt, kind, p["node"], p, ctx.user)

    @route("GET", one)
    def guest_index(ctx: Ctx, p: dict[str, Any]) -> list[dict[str, str]]:
        """Directory index of a guest."""
        _guest(ctx, p, kind)
        subdirs = ["config", "pending", "status", "snapshot", "rrddata", "clone", "resize", "template"]
        return [{"subdir": s} for s in subdirs]

    @route("DELETE", one)
    def guest_delete(ctx: Ctx, p: dict[str, Any]) -> str:
        """Destroy a guest and free its volumes (task)."""
        return guestops.delete(ctx.rt, _guest(ctx, p, kind), p, ctx.user)

    @route("GET", f"{one}/config")
    def config_get(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
        """The guest's config with ``digest`` (``snapshot=`` is not kept: returns current config)."""
        return _config(_guest(ctx, p, kind))

    @route("PUT", f"{one}/config")
    def config_put(ctx: Ctx, p: dict[str, Any]) -> None:
        """Synchronous config update."""
        guestops.update_config(ctx.rt, _guest(ctx, p, kind), p)

    @route("GET", f"{one}/pending")
    def config_pending(ctx: Ctx, p: dict[str, Any]) -> list[dict[str, Any]]:
        """Config as ``[{key, value}]`` with string values as the schema has them (changes apply at once, so
        nothing is ever pending)."""
        guest = _guest(ctx, p, kind)
        return [{"key": k, "value": str(v)} for k, v in _config(guest).items()]

    @route("GET", f"{one}/status/current")
    def status_current(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
        """Runtime status of the guest."""
        return guest_status(ctx.rt, _guest(ctx, p, kind))

    for action in power.ACTIONS:
        if action == "reset" and kind == "lxc":
            continue
        _register_power(kind, f"{one}/status/{action}", action)

    @route("PUT", f"{one}/resize")
    def resize(ctx: Ctx, p: dict[str, Any]) -> str:
        """Grow a disk (task)."""
        return guestops.resize(ctx.rt, _guest(ctx, p, kind), p, ctx.user)

    @route("POST", f"{one}/clone")
    def clone(ctx: Ctx, p: dict[str, Any]) -> str:
        """Clone into ``newid`` (task)."""
        return cloneops.clone(ctx.rt, _guest(ctx, p, kind), p, ctx.user)

    @route("POST", f"{one}/template")
    def template(ctx: Ctx, p: dict[str, Any]) -> str | None:
        """Convert into a template (qemu: task UPID; lxc: null like PVE)."""
        upid = guestops.make_template(ctx.rt, _guest(ctx, p, kind), ctx.user)
        return upid if kind == "qemu" else None

    @route("GET", f"{one}/snapshot")
    def snapshots(ctx: Ctx, p: dict[str, Any]) -> list[dict[str, Any]]:
        """Snapshot list including the ``current`` entry."""
        return cloneops.snapshot_list(ctx.rt, _guest(ctx, p, kind))

    @route("POST", f"{one}/snapshot")
    def snapshot_create(ctx: Ctx, p: dict[str, Any]) -> str:
        """Take a snapshot (task)."""
        return cloneops.snapshot_create(ctx.rt, _guest(ctx, p, kind), p, ctx.user)

    @route("GET", f"{one}/rrddata")
    def rrddata(ctx: Ctx, p: dict[str, Any]) -> list[dict[str, Any]]:
        """Guest metrics over ``timeframe``."""
        g = _guest(ctx, p, kind)
        return metrics.rrd_series(ctx.rt.seed, f"g{g.vmid}", p["timeframe"], ctx.rt.now(), g.maxmem, g.cpus, g.maxdisk)


def _register_power(kind: str, path: str, action: str) -> None:
    @route("POST", path)
    def handler(ctx: Ctx, p: dict[str, Any]) -> str:
        return power.power(ctx.rt, _guest(ctx, p, kind), action, ctx.user)

    handler.__doc__ = f"{action} the guest (task)."
