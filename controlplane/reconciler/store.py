"""The reconciler's reads and writes of managed objects, as the ``system`` role through the application
engine: load one object, write its status and conditions, remove it when its finalizer is done.

Status is the reconciler's alone; writing it does not bump ``generation`` or ``resource_version`` (those
track the spec, which users write).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from controlplane.db.engine import SYSTEM, apply_context

from .kinds import KINDS, ObjectKind

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


COLUMNS = ("id", "tenant_id", "project_id", "cluster_id", "name", "labels", "spec", "status", "conditions",
           "generation", "observed_generation", "finalizers", "deleted_at")


def load(conn: sa.Connection, kind: ObjectKind, object_id: UUID, *, lock: bool = False) -> ManagedObject | None:
    """The object, or None when its row is gone."""
    g = kind.rows
    query = sa.select(*(g.c[name] for name in COLUMNS)).where(g.c.id == object_id)
    row = conn.execute(query.with_for_update() if lock else query).mappings().first()
    return None if row is None else ManagedObject(kind=kind, **{name: row[name] for name in COLUMNS})


def write_status(conn: sa.Connection, obj: ManagedObject, *, observed_generation: int | None = None) -> None:
    """Store ``obj.status`` and ``obj.conditions`` (and ``observed_generation`` when given); conditions
    live in their own column only (the API puts them into the document's ``status``)."""
    status = {key: value for key, value in obj.status.items() if key != "conditions"}
    if observed_generation is not None:
        obj.observed_generation = observed_generation
    status["observed_generation"] = obj.observed_generation
    g = obj.kind.rows
    conn.execute(sa.update(g).where(g.c.id == obj.id).values(
        status=status, conditions=obj.conditions, observed_generation=obj.observed_generation))


def remove(conn: sa.Connection, obj: ManagedObject) -> bool:
    """Drop our finalizer and delete the row when no finalizer is left; True when the row is gone."""
    g = obj.kind.rows
    row = conn.execute(
        sa.update(g).where(g.c.id == obj.id, g.c.deleted_at.is_not(None))
        .values(finalizers=sa.func.array_remove(g.c.finalizers, FINALIZER))
        .returning(sa.func.cardinality(g.c.finalizers))
    ).first()
    if row is None or row[0] > 0:
        return False
    conn.execute(sa.delete(g).where(g.c.id == obj.id))
    return True


def used_vmids(conn: sa.Connection, cluster_id: UUID) -> set[int]:
    """VMIDs recorded (or reserved by a pending create) for any managed guest of the cluster."""
    query = sa.union_all(*(
        sa.select(g.c.status["vmid"].astext.cast(sa.Integer))
        .where(g.c.cluster_id == cluster_id, g.c.status.has_key("vmid"))
        for g in (kind.rows for kind in KINDS.values())
    ))
    return {int(r[0]) for r in conn.execute(query) if r[0] is not None}


def peers(conn: sa.Connection, cluster_id: UUID) -> list[dict[str, Any]]:
    """Every placed guest of the cluster: node, labels, memory, and whether its create is still pending."""
    query = sa.union_all(*(
        sa.select(g.c.id, g.c.status["node"].astext.label("node"), g.c.labels,
                  g.c.spec["memory_mb"].astext.cast(sa.Integer).label("memory_mb"),
                  sa.func.coalesce(g.c.status["create_pending"].astext.cast(sa.Boolean), False).label("pending"))
        .where(g.c.cluster_id == cluster_id, g.c.status.has_key("node"), g.c.deleted_at.is_(None))
        for g in (kind.rows for kind in KINDS.values())
    ))
    return [dict(r) for r in conn.execute(query).mappings()]
