"""Observation and drift: one ``/cluster/resources`` call per cluster per resync updates the status of every
managed guest of that cluster (power, node, CPU, memory, uptime) and finds drift made behind our back: a
guest deleted, stopped/started, or resized. Drift shows as condition Drifted=True (and Ready=False); with
the object's policy ``correct`` the object is made due (a run then recreates/resizes/powers it), with
``report`` it is only shown. Objects under a run, or with a newer spec than observed, are not judged.
When the worker configures guests, those whose playbook content changed since their last configuration
run are made due as well.

Only rows whose observed state changed are read back and written (PostgreSQL compares them with the
snapshot): power, node, the drift judgement and the conditions, or a reboot (uptime went down). The usage
figures ``cpu``, ``mem_mb`` and ``uptime`` are a sample taken with the last such change, not a live reading,
and a guest's ``status.observed_at`` is when its observed state last changed. When the cluster itself was
last observed is ``observed_at`` in the cluster's status, written once per resync. A resync of unchanged
guests therefore writes one row, the cluster's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PG_UUID

from controlplane.drivers.proxmox_observe import ClusterSnapshot, cluster_snapshot
from controlplane.models import tables as t

from . import leases
from .conditions import DRIFTED, READY, get_condition, now_iso, set_condition
from .configure import enqueue_stale
from .context import RunContext
from .credentials import load_cluster
from .kinds import KINDS, ObjectKind
from .store import drift_policy, system_tx


@dataclass(frozen=True)
class ObserveReport:
    """What one resync of one cluster saw and did."""

    cluster_id: UUID
    api_calls: int
    guests: int
    drifted: int
    enqueued: int
    seconds: float


def drift_reasons(kind: ObjectKind, spec: dict[str, Any], vmid: int, snapshot: ClusterSnapshot) -> list[str]:
    """Why the observed guest differs from the spec (empty when it does not)."""
    seen = snapshot.guests.get(vmid)
    if seen is None or seen.kind != kind.name:
        return [f"GuestMissing: VMID {vmid} does not exist in the cluster"]
    reasons = []
    if seen.power in ("running", "stopped") and seen.power != spec.get("power", "running"):
        reasons.append(f"PowerDrift: the guest is {seen.power}, the spec says {spec.get('power', 'running')}")
    if seen.cores and seen.cores != int(spec.get("cores", 1)):
        reasons.append(f"ConfigDrift: {seen.cores} cores, the spec says {spec.get('cores')}")
    if seen.memory_mb and seen.memory_mb != int(spec.get("memory_mb", 1024)):
        reasons.append(f"ConfigDrift: {seen.memory_mb} MiB memory, the spec says {spec.get('memory_mb')}")
    return reasons


def _observed(kind: ObjectKind, cluster_id: UUID) -> sa.Select:
    """The placed guests of ``kind`` on the cluster that no run is working on right now."""
    g, w = kind.rows, t.work_leases
    running = sa.exists().where(w.c.object_id == g.c.id, w.c.holder.is_not(None), w.c.expires_at > sa.func.now())
    creating = sa.func.coalesce(g.c.status["create_pending"].astext.cast(sa.Boolean), False)
    return sa.select(g.c.id, g.c.tenant_id, g.c.labels, g.c.spec, g.c.status, g.c.conditions, g.c.generation,
                     g.c.observed_generation).where(
        g.c.cluster_id == cluster_id, g.c.deleted_at.is_(None), g.c.status.has_key("vmid"), ~creating, ~running)


def _seen(kind: ObjectKind, snapshot: ClusterSnapshot) -> Any:
    """The snapshot's guests of ``kind`` as a table PostgreSQL can join the stored rows with."""
    rows = [{"vmid": g.vmid, "power": g.power, "node": g.node, "cores": g.cores, "memory_mb": g.memory_mb,
             "uptime": g.uptime} for g in snapshot.guests.values() if g.kind == kind.name]
    return sa.func.jsonb_to_recordset(sa.cast(rows, JSONB)).table_valued(
        sa.column("vmid", sa.Integer), sa.column("power", sa.Text), sa.column("node", sa.Text),
        sa.column("cores", sa.Integer), sa.column("memory_mb", sa.Integer), sa.column("uptime", sa.BigInteger),
    ).render_derived(name="s", with_types=True)


def _worth_judging(kind: ObjectKind, cluster_id: UUID, snapshot: ClusterSnapshot) -> sa.Select:
    """The observed guests whose row the snapshot may change. All others are unchanged (the same power and
    node, no reboot, nothing :func:`drift_reasons` would find, not Drifted): :func:`_judge` would neither
    write nor correct them, so they never leave PostgreSQL."""
    g, s = kind.rows, _seen(kind, snapshot)
    status, spec = g.c.status, g.c.spec

    def number(value: Any) -> Any:
        return value.astext.cast(sa.Numeric)

    differs = sa.or_(
        s.c.vmid.is_(None),
        status["power"].astext.is_distinct_from(s.c.power), status["node"].astext.is_distinct_from(s.c.node),
        status["uptime"].astext.is_(None), s.c.uptime < number(status["uptime"]),
        sa.and_(s.c.power.in_(("running", "stopped")), s.c.power != sa.func.coalesce(spec["power"].astext, "running")),
        sa.and_(s.c.cores != 0, s.c.cores != sa.func.coalesce(number(spec["cores"]), 1)),
        sa.and_(s.c.memory_mb != 0, s.c.memory_mb != sa.func.coalesce(number(spec["memory_mb"]), 1024)),
        sa.func.jsonb_typeof(status["drift"]) == "object",
        g.c.conditions.contains(sa.cast([{"type": DRIFTED, "status": "True"}], JSONB)),
    )
    joined = g.outerjoin(s, s.c.vmid == status["vmid"].astext.cast(sa.Integer))
    return _observed(kind, cluster_id).select_from(joined).where(differs)


def _count(kind: ObjectKind, cluster_id: UUID) -> sa.Select:
    """How many guests of ``kind`` the resync observes."""
    return sa.select(sa.func.count()).select_from(_observed(kind, cluster_id).subquery())


def _stamp_cluster(cluster_id: UUID, stamp: str) -> sa.Update:
    """Record when the cluster was observed: ``status.observed_at`` of its row."""
    c = t.clusters
    return sa.update(c).where(c.c.id == cluster_id).values(
        status=c.c.status.op("||")(sa.cast({"observed_at": stamp}, JSONB)))


#: The observed fields whose change is worth a row write (usage figures ride along with them).
TRACKED = ("power", "node", "drift")


@dataclass(frozen=True)
class Judgement:
    """One object's status/conditions patch, whether it differs from the stored row, whether to correct."""

    update: dict[str, Any]
    changed: bool
    correct: bool


def _changed(row: Any, patch: dict[str, Any], conditions: list[dict[str, Any]]) -> bool:
    """Whether writing ``patch`` and ``conditions`` would change what the row says was observed."""
    status = row.status or {}
    if conditions != list(row.conditions or []):
        return True
    if any(key in patch and patch[key] != status.get(key) for key in TRACKED):
        return True
    uptime, before = patch.get("uptime"), status.get("uptime")
    return uptime is not None and (before is None or uptime < before)


def _update(kind: ObjectKind, updates: list[dict[str, Any]]) -> sa.Update:
    """One statement for every judged guest: its status patch merged in and its conditions replaced."""
    g = kind.rows
    v = sa.func.jsonb_to_recordset(sa.cast(updates, JSONB)).table_valued(
        sa.column("id", PG_UUID(as_uuid=True)), sa.column("patch", JSONB), sa.column("conditions", JSONB),
    ).render_derived(name="v", with_types=True)
    return sa.update(g).where(g.c.id == v.c.id).values(status=g.c.status.op("||")(v.c.patch),
                                                       conditions=v.c.conditions)


def _judge(kind: ObjectKind, row: Any, snapshot: ClusterSnapshot, stamp: str) -> Judgement:
    """The status/conditions patch for one object, whether it changes the row, and whether to correct."""
    vmid = int(row.status["vmid"])
    seen = snapshot.guests.get(vmid)
    patch: dict[str, Any] = {"observed_at": stamp}
    if seen is not None and seen.kind == kind.name:
        patch.update(seen.as_status())
    conditions = list(row.conditions or [])
    reasons = drift_reasons(kind, row.spec, vmid, snapshot) if row.generation <= row.observed_generation else []
    policy = drift_policy(row.spec, row.labels)
    if reasons:
        message = "; ".join(reasons) + (" (correcting)" if policy == "correct" else " (policy: report only)")
        conditions = set_condition(conditions, DRIFTED, True, reasons[0].split(":", 1)[0], message)
        conditions = set_condition(conditions, READY, False, "Drifted", message)
        previous = (row.status or {}).get("drift") or {}
        same = previous.get("reasons") == reasons and previous.get("policy") == policy
        patch["drift"] = {"detected_at": previous.get("detected_at", stamp) if same else stamp,
                          "reasons": reasons, "policy": policy}
    elif (get_condition(conditions, DRIFTED) or {}).get("status") == "True" \
            and row.generation <= row.observed_generation:
        conditions = set_condition(conditions, DRIFTED, False, "InSync", "")
        if (get_condition(conditions, READY) or {}).get("reason") == "Drifted":
            conditions = set_condition(conditions, READY, True, "Reconciled", "")
        patch["drift"] = None
    return Judgement({"id": str(row.id), "patch": patch, "conditions": conditions},
                     _changed(row, patch, conditions), bool(reasons) and policy == "correct")


def resync_cluster(ctx: RunContext, cluster_id: UUID) -> ObserveReport:
    """Observe one cluster with one API call, write the guests whose observed state changed, and stamp the
    cluster's ``status.observed_at``."""
    started = time.monotonic()
    with system_tx(ctx.engine) as conn:
        creds = load_cluster(conn, cluster_id, ctx.vault, ctx.data_dir)
    snapshot = cluster_snapshot(creds.access)
    stamp = now_iso()
    guests = drifted = enqueued = 0
    with system_tx(ctx.engine) as conn:
        for kind in KINDS.values():
            rows = conn.execute(_worth_judging(kind, cluster_id, snapshot)).all()
            updates = []
            for row in rows:
                judged = _judge(kind, row, snapshot, stamp)
                if judged.changed:
                    updates.append(judged.update)
                drifted += judged.update["patch"].get("drift") is not None
                if judged.correct:
                    leases.enqueue(conn, kind.name, row.id, row.tenant_id)
                    enqueued += 1
            guests += conn.execute(_count(kind, cluster_id)).scalar_one()
            if updates:
                conn.execute(_update(kind, updates))
        conn.execute(_stamp_cluster(cluster_id, stamp))
        if ctx.configure is not None:
            enqueued += enqueue_stale(conn, ctx.configure, cluster_id)
    return ObserveReport(cluster_id, 1, guests, drifted, enqueued, round(time.monotonic() - started, 3))
