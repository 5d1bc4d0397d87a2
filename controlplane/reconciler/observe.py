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

import json
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from controlplane.drivers.proxmox_observe import ClusterSnapshot, cluster_snapshot

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


#: The managed guests of cluster ``:c`` a resync judges: with a VMID, not being created, not under a run.
MANAGED_SQL = """g.cluster_id = :c AND g.deleted_at IS NULL AND g.status ? 'vmid'
  AND NOT coalesce((g.status->>'create_pending')::boolean, false)
  AND NOT EXISTS (SELECT 1 FROM work_leases w WHERE w.object_id = g.id AND w.holder IS NOT NULL
                  AND w.expires_at > now())
"""

COUNT_SQL = "SELECT count(*) FROM {table} g WHERE " + MANAGED_SQL

#: The managed guests worth judging: all others are unchanged (the same power and node, no reboot, nothing
#: :func:`drift_reasons` would find, not Drifted), which :func:`_judge` would neither write nor correct.
SELECT_SQL = """
WITH seen AS (SELECT * FROM jsonb_to_recordset(CAST(:seen AS jsonb))
              AS s(vmid integer, power text, node text, cores integer, memory_mb integer, uptime bigint))
SELECT g.id, g.tenant_id, g.labels, g.spec, g.status, g.conditions, g.generation, g.observed_generation
FROM {table} g LEFT JOIN seen s ON s.vmid = (g.status->>'vmid')::integer
WHERE """ + MANAGED_SQL + """
  AND (s.vmid IS NULL
       OR g.status->>'power' IS DISTINCT FROM s.power OR g.status->>'node' IS DISTINCT FROM s.node
       OR (g.status->>'uptime') IS NULL OR s.uptime < (g.status->>'uptime')::numeric
       OR (s.power IN ('running', 'stopped') AND s.power <> coalesce(g.spec->>'power', 'running'))
       OR (s.cores <> 0 AND s.cores <> coalesce((g.spec->>'cores')::numeric, 1))
       OR (s.memory_mb <> 0 AND s.memory_mb <> coalesce((g.spec->>'memory_mb')::numeric, 1024))
       OR jsonb_typeof(g.status->'drift') = 'object'
       OR g.conditions @> jsonb_build_array(jsonb_build_object('type', 'Drifted', 'status', 'True')))
"""


def seen_rows(kind: ObjectKind, snapshot: ClusterSnapshot) -> str:
    """The snapshot's guests of ``kind`` as the JSON :data:`SELECT_SQL` compares the stored rows with."""
    return json.dumps([{"vmid": g.vmid, "power": g.power, "node": g.node, "cores": g.cores,
                        "memory_mb": g.memory_mb, "uptime": g.uptime}
                       for g in snapshot.guests.values() if g.kind == kind.name])


UPDATE_SQL = """
UPDATE {table} g SET status = g.status || v.patch, conditions = v.conditions
FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v(id uuid, patch jsonb, conditions jsonb)
WHERE g.id = v.id
"""


CLUSTER_SEEN_SQL = """
UPDATE clusters SET status = status || jsonb_build_object('observed_at', CAST(:stamp AS text)) WHERE id = :c
"""

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
    changed = _changed(row, patch, conditions)
    patch["conditions"] = conditions
    return Judgement({"id": str(row.id), "patch": patch, "conditions": conditions}, changed,
                     bool(reasons) and policy == "correct")


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
            rows = conn.execute(sa.text(SELECT_SQL.format(table=kind.table)),
                                {"c": cluster_id, "seen": seen_rows(kind, snapshot)}).all()
            updates = []
            for row in rows:
                judged = _judge(kind, row, snapshot, stamp)
                if judged.changed:
                    updates.append(judged.update)
                drifted += judged.update["patch"].get("drift") is not None
                if judged.correct:
                    leases.enqueue(conn, kind.name, row.id, row.tenant_id)
                    enqueued += 1
            guests += conn.execute(sa.text(COUNT_SQL.format(table=kind.table)), {"c": cluster_id}).scalar_one()
            if updates:
                conn.execute(sa.text(UPDATE_SQL.format(table=kind.table)), {"rows": json.dumps(updates)})
        conn.execute(sa.text(CLUSTER_SEEN_SQL), {"stamp": stamp, "c": cluster_id})
        if ctx.configure is not None:
            enqueued += enqueue_stale(conn, ctx.configure, cluster_id)
    return ObserveReport(cluster_id, 1, guests, drifted, enqueued, round(time.monotonic() - started, 3))
