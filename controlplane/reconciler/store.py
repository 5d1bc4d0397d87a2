"""The reconciler's reads and writes of managed objects, as the ``system`` role through the application
engine: load one object, write its status and conditions, remove it when its finalizer is done.

Status is the reconciler's alone; writing it does not bump ``generation`` or ``resource_version`` (those
track the spec, which users write).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from controlplane.db.engine import SYSTEM, apply_context

from .kinds import ObjectKind

FINALIZER = "controlplane/destroy"


@contextmanager
def system_tx(engine: Engine) -> Iterator[sa.Connection]:
    """One transaction acting for every tenant (``app.role = system``); committed on success."""
    with engine.begin() as conn:
        apply_context(conn, SYSTEM)
        yield conn


@dataclass
class ManagedObject:
    """One VirtualMachine or Container as the reconciler sees it."""

    kind: ObjectKind
    id: UUID
    tenant_id: UUID
    project_id: UUID
    cluster_id: UUID | None
    name: str
    labels: dict[str, str]
    spec: dict[str, Any]
    status: dict[str, Any]
    conditions: list[dict[str, Any]]
    generation: int
    observed_generation: int
    finalizers: list[str]
    deleted_at: datetime | None


def drift_policy(spec: dict[str, Any], labels: dict[str, str] | None) -> str:
    """``report`` when ``spec.drift_policy`` or the label ``controlplane/drift`` says so, else ``correct``
    (the spec's field defaults to ``correct``, so the label can still make an object report-only)."""
    wanted = (spec.get("drift_policy"), (labels or {}).get("controlplane/drift"))
    return "report" if "report" in wanted else "correct"


COLUMNS = ("id, tenant_id, project_id, cluster_id, name, labels, spec, status, conditions, generation, "
           "observed_generation, finalizers, deleted_at")


def load(conn: sa.Connection, kind: ObjectKind, object_id: UUID, *, lock: bool = False) -> ManagedObject | None:
    """The object, or None when its row is gone."""
    sql = f"SELECT {COLUMNS} FROM {kind.table} WHERE id = :id" + (" FOR UPDATE" if lock else "")
    row = conn.execute(sa.text(sql), {"id": object_id}).mappings().first()
    return None if row is None else ManagedObject(kind=kind, **{k: row[k] for k in row.keys()})  # noqa: SIM118


def write_status(conn: sa.Connection, obj: ManagedObject, *, observed_generation: int | None = None) -> None:
    """Store ``obj.status`` and ``obj.conditions`` (and ``observed_generation`` when given)."""
    status = {**obj.status, "conditions": obj.conditions}
    if observed_generation is not None:
        obj.observed_generation = observed_generation
    status["observed_generation"] = obj.observed_generation
    conn.execute(
        sa.text(f"UPDATE {obj.kind.table} SET status = CAST(:status AS jsonb), "
                "conditions = CAST(:conditions AS jsonb), observed_generation = :og WHERE id = :id"),
        {"status": json.dumps(status), "conditions": json.dumps(obj.conditions), "og": obj.observed_generation,
         "id": obj.id},
    )


def remove(conn: sa.Connection, obj: ManagedObject) -> bool:
    """Drop our finalizer and delete the row when no finalizer is left; True when the row is gone."""
    row = conn.execute(
        sa.text(f"UPDATE {obj.kind.table} SET finalizers = array_remove(finalizers, :f) "
                "WHERE id = :id AND deleted_at IS NOT NULL RETURNING cardinality(finalizers)"),
        {"f": FINALIZER, "id": obj.id},
    ).first()
    if row is None or row[0] > 0:
        return False
    conn.execute(sa.text(f"DELETE FROM {obj.kind.table} WHERE id = :id"), {"id": obj.id})
    return True


def used_vmids(conn: sa.Connection, cluster_id: UUID) -> set[int]:
    """VMIDs recorded (or reserved by a pending create) for any managed guest of the cluster."""
    sql = " UNION ALL ".join(
        f"SELECT (status->>'vmid')::int FROM {t} WHERE cluster_id = :c AND status ? 'vmid'"
        for t in ("virtual_machines", "containers")
    )
    return {int(r[0]) for r in conn.execute(sa.text(sql), {"c": cluster_id}) if r[0] is not None}


def peers(conn: sa.Connection, cluster_id: UUID) -> list[dict[str, Any]]:
    """Every placed guest of the cluster: node, labels, memory, and whether its create is still pending."""
    sql = " UNION ALL ".join(
        f"SELECT id, status->>'node' AS node, labels, (spec->>'memory_mb')::int AS memory_mb, "
        f"coalesce((status->>'create_pending')::boolean, false) AS pending FROM {t} "
        "WHERE cluster_id = :c AND status ? 'node' AND deleted_at IS NULL"
        for t in ("virtual_machines", "containers")
    )
    return [dict(r) for r in conn.execute(sa.text(sql), {"c": cluster_id}).mappings()]
