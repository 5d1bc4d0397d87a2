"""The delete path of a run (``deleted_at`` is set): destroy through OpenTofu from the workspace's state
(the spec is not planned, so a spec that cannot plan never blocks a delete), check the guest is gone,
drop the workspace's state, then drop the finalizer and the row."""

from __future__ import annotations

from controlplane.drivers.proxmox_observe import guest_status
from controlplane.drivers.terraform import GuestModule
from controlplane.errors import TemporaryError

from . import store
from .context import RunContext
from .credentials import load_cluster
from .kinds import workspace
from .power import pending_actions, settle_actions
from .runlog import RunRecorder
from .store import ManagedObject, system_tx
from .terraform_run import converge, destroy, drop_workspace
from .translate import module_variables


def delete_object(ctx: RunContext, obj: ManagedObject, run: RunRecorder) -> None:
    """Destroy the guest (if one was ever recorded) and remove the object."""
    space = workspace(obj.kind, obj.id)
    if obj.status.get("vmid") is not None and obj.cluster_id is not None:
        with system_tx(ctx.engine) as conn:
            creds = load_cluster(conn, obj.cluster_id, ctx.vault, ctx.data_dir, ctx.gateway,
                             route=str(run.id))
        vmid, node = int(obj.status["vmid"]), str(obj.status["node"])
        if obj.status.get("create_pending"):
            found = guest_status(creds.access, obj.kind.name, node, vmid)
            if found is not None and found.get("name") in (obj.name, None):
                run.log(f"VMID {vmid} was created by an unfinished run: adopting it before destroying it")
                guest = GuestModule(obj.kind.name,
                                    module_variables(obj, vmid, node, agent_timeout=ctx.agent_timeout))
                converge(ctx.terraform, guest, space, creds.terraform, run, adopt=True, cancel=ctx.cancel)
        outcome = destroy(ctx.terraform, space, creds.terraform, run, cancel=ctx.cancel)
        run.set_summary(timings=outcome.timings)
        left = guest_status(creds.access, obj.kind.name, node, vmid)
        if left is not None and left.get("name") in (obj.name, None):
            obj.status["create_pending"] = True  # the next attempt adopts it first
            with system_tx(ctx.engine) as conn:
                store.write_status(conn, obj)
            raise TemporaryError(f"VMID {vmid} still exists after the destroy", component="proxmox")
    drop_workspace(ctx.terraform, space)
    with system_tx(ctx.engine) as conn:
        settle_actions(conn, [i for i, _ in pending_actions(conn, obj.id)], "failed")
        gone = store.remove(conn, obj)
    run.log("guest destroyed, workspace dropped, object removed" if gone else
            "guest destroyed; other finalizers keep the object")
