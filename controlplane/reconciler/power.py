"""The power step of a run: carry out pending power actions (``guest_actions``: shutdown, reboot, start, stop)
through the Proxmox API, then bring the guest to ``spec.power``. Power is never Terraform's."""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from controlplane.drivers import proxmox_power
from controlplane.drivers.proxmox_observe import ProxmoxAccess

from .runlog import RunRecorder
from .store import ManagedObject, system_tx


def pending_actions(conn: sa.Connection, object_id: UUID) -> list[tuple[UUID, str]]:
    """Pending power actions of the object, oldest first."""
    rows = conn.execute(sa.text("SELECT id, action FROM guest_actions WHERE target_id = :id AND state = 'pending' "
                                "ORDER BY created_at"), {"id": object_id})
    return [(r.id, r.action) for r in rows]


def settle_actions(conn: sa.Connection, ids: list[UUID], state: str) -> None:
    """Mark actions ``done`` or ``failed``."""
    if ids:
        conn.execute(sa.text("UPDATE guest_actions SET state = :s, handled_at = now() WHERE id = ANY(:ids)"),
                     {"s": state, "ids": ids})


def converge_power(access: ProxmoxAccess, obj: ManagedObject, run: RunRecorder, engine: Engine, *,
                   timeout: float) -> str:
    """Carry out pending actions, then reach ``spec.power``; returns the power state reached."""
    kind, node, vmid = obj.kind.name, str(obj.status["node"]), int(obj.status["vmid"])
    desired = str(obj.spec.get("power", "running"))
    with system_tx(engine) as conn:
        actions = pending_actions(conn, obj.id)
    graceful = any(a == "shutdown" for _, a in actions)
    for _, action in actions:
        if action == "reboot" and desired == "running" \
                and proxmox_power.current_power(access, kind, node, vmid) == "running":
            run.log(f"power: reboot of {vmid}")
            proxmox_power.run_action(access, kind, node, vmid, "reboot", timeout=timeout)
    if proxmox_power.set_power(access, kind, node, vmid, desired, graceful=graceful, timeout=timeout):
        run.log(f"power: {vmid} is now {desired}")
    if actions:
        with system_tx(engine) as conn:
            settle_actions(conn, [i for i, _ in actions], "done")
    return desired
