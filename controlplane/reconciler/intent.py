"""Recording a create's intent before anything is created: the node (placement) and the VMID, committed in
their own transaction with a ``create_pending`` marker. A crash after Proxmox accepted the create but before
the outcome was recorded then leaves a marker that the next run resolves by finding the guest by its VMID
(and adopting it), never by creating a second one.
"""

from __future__ import annotations

import sqlalchemy as sa

from controlplane.drivers.proxmox_observe import ClusterSnapshot, cluster_snapshot
from controlplane.errors import PermanentError

from . import placement, store
from .conditions import PROVISIONED, READY, set_condition
from .context import RunContext
from .credentials import ClusterCredentials
from .runlog import RunRecorder
from .store import ManagedObject, system_tx
from .translate import storages_of


def _choose_node(conn: sa.Connection, ctx: RunContext, obj: ManagedObject, snapshot: ClusterSnapshot
                 ) -> placement.Placement:
    wanted = str(obj.spec.get("node") or "auto")
    if wanted != "auto":
        if wanted not in snapshot.nodes:
            raise PermanentError(f"the cluster has no node {wanted!r}", component="placement", field="spec.node")
        return placement.Placement(wanted, "fixed", "spec.node names it")
    nodes = [placement.NodeCapacity(name, n["online"], n["cpus"], n["cpu"], n["maxmem_mb"], n["mem_mb"],
                                    frozenset(n["storages"])) for name, n in snapshot.nodes.items()]
    peers = [placement.Peer(p["node"], p["labels"] or {}, p["memory_mb"] or 0, p["pending"])
             for p in store.peers(conn, obj.cluster_id) if p["id"] != obj.id]
    request = placement.Request(
        cores=int(obj.spec.get("cores", 1)), memory_mb=int(obj.spec.get("memory_mb", 1024)),
        storages=storages_of(obj.spec), labels=obj.labels,
        policy=obj.labels.get("controlplane/placement", ctx.placement_policy),
        anti_affinity=obj.labels.get("controlplane/anti-affinity"),
    )
    return placement.place(nodes, peers, request)


def record_intent(ctx: RunContext, obj: ManagedObject, creds: ClusterCredentials, run: RunRecorder) -> None:
    """Choose node and VMID and commit them with ``create_pending`` before Terraform runs."""
    snapshot = cluster_snapshot(creds.access, attempts=5)
    with system_tx(ctx.engine) as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:c))"), {"c": f"vmid:{obj.cluster_id}"})
        chosen = _choose_node(conn, ctx, obj, snapshot)
        used = store.used_vmids(conn, obj.cluster_id) | set(snapshot.guests)
        vmid = ctx.vmid_start
        while vmid in used:
            vmid += 1
        obj.status.update(vmid=vmid, node=chosen.node, create_pending=True, placement=chosen.as_status())
        obj.conditions = set_condition(obj.conditions, PROVISIONED, False, "Creating",
                                       f"VMID {vmid} on node {chosen.node} recorded; creating")
        obj.conditions = set_condition(obj.conditions, READY, False, "Creating", "the guest is being created")
        store.write_status(conn, obj)
    run.log(f"intent recorded: VMID {vmid} on node {chosen.node} ({chosen.reason})")
