"""``/nodes/{node}/tasks``: task list, status and log."""

from __future__ import annotations

from typing import Any

from . import Ctx, route


@route("GET", "/nodes/{node}/tasks")
def task_list(ctx: Ctx, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Recent tasks of the node, newest first."""
    tasks = [t for t in ctx.rt.tasks.tasks.values() if t.node == p["node"]]
    if p.get("vmid"):
        tasks = [t for t in tasks if t.vmid == int(p["vmid"])]
    if p.get("source") == "active":
        tasks = [t for t in tasks if t.status == "running"]
    tasks.sort(key=lambda t: t.starttime, reverse=True)
    start, limit = int(p.get("start", 0)), int(p.get("limit", 50))
    return [t.status_entry() for t in tasks[start : start + limit]]


@route("GET", "/nodes/{node}/tasks/{upid}/status")
def task_status(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    """Status of one task (``running`` or ``stopped`` with ``exitstatus``)."""
    return ctx.rt.tasks.get(p["node"], p["upid"]).status_entry()


@route("GET", "/nodes/{node}/tasks/{upid}/log")
def task_log(ctx: Ctx, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Log lines of one task as ``[{n, t}]``."""
    task = ctx.rt.tasks.get(p["node"], p["upid"])
    start, limit = int(p.get("start", 0)), int(p.get("limit", 50))
    lines = task.log or ["no content"]
    return [{"n": i + 1, "t": t} for i, t in enumerate(lines)][start : start + limit]
