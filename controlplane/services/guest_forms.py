"""What the portal's guest forms and detail page need to show, read with the caller's own visibility: the
projects they may create in with each one's quota and usage, the clusters and their nodes, whether a name is
free, and a guest's runs. Decisions (may they create, does it fit) stay with ``guests.create``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import Session

from controlplane.models import tables as t
from controlplane.models.tenancy import Quota, Usage
from controlplane.services import audit, clusters, guests, projects, quota, runs, tenants, users
from controlplane.services.caller import Caller
from controlplane.services.guests import Kind


@dataclass
class ProjectRoom:
    """A project, its limits and what its guests use now."""

    id: UUID
    name: str
    tenant_id: UUID
    tenant_name: str
    quota: Quota
    usage: Usage

    def remaining(self) -> dict[str, int | None]:
        """What is left under each limit (None: no limit)."""
        out: dict[str, int | None] = {}
        for key in ("vcpus", "memory_mb", "disk_gb", "guests"):
            limit = getattr(self.quota, key)
            out[key] = None if limit is None else max(0, limit - getattr(self.usage, key))
        return out


def project_rooms(session: Session, caller: Caller, *, only: UUID | None = None) -> list[ProjectRoom]:
    """The projects the caller sees (for users: those they are members of), or just ``only`` among them,
    with quota and usage."""
    stmt = projects.list_query(caller).join(t.tenants, t.tenants.c.id == t.projects.c.tenant_id) \
        .add_columns(t.tenants.c.name.label("tenant_name")).order_by(t.tenants.c.name, t.projects.c.name)
    if only is not None:
        stmt = stmt.where(t.projects.c.id == only)
    rows = session.execute(stmt).all()
    used = quota.usage_by_project(session, [r.id for r in rows])
    return [ProjectRoom(id=r.id, name=r.name, tenant_id=r.tenant_id, tenant_name=r.tenant_name,
                        quota=projects.quota_of(r), usage=used[r.id]) for r in rows]


def cluster_choices(session: Session) -> list[dict[str, Any]]:
    """Each cluster's name and its nodes' names."""
    return [{"name": r.name, "nodes": [n.name for n in nodes]} for r, nodes in cluster_rows(session)]


def name_taken(session: Session, caller: Caller, kind: Kind, project: str, name: str) -> bool:
    """Whether a live guest of ``kind`` in the caller's project ``project`` already has ``name``."""
    stmt = guests.list_query(kind, caller).where(kind.table.c.name == name, t.projects.c.name == project)
    return session.execute(stmt.limit(1)).first() is not None


def runs_of(session: Session, caller: Caller, guest_id: UUID, limit: int = 20) -> list[sa.Row]:
    """The newest runs of one guest the caller may see."""
    stmt = runs.list_query(caller).where(t.runs.c.target_id == guest_id)
    return list(session.execute(stmt.order_by(t.runs.c.created_at.desc()).limit(limit)).all())


def assignable_users(session: Session, caller: Caller, tenant_id: UUID) -> list[sa.Row]:
    """The active users of a tenant the caller may see (whom a guest there may be assigned to)."""
    stmt = users.list_query(caller).where(users.U.c.tenant_id == tenant_id, users.U.c.is_active.is_(True))
    return list(session.execute(stmt.order_by(users.U.c.email)).all())


def members_of(session: Session, caller: Caller, project_id: UUID) -> list[dict[str, Any]]:
    """A project's members with their email (where the caller may see the user) and role."""
    seen = {u.id: u for u in session.execute(users.list_query(caller)).all()}
    out = []
    for m in projects.list_members(session, caller, project_id):
        user = seen.get(m.user_id)
        out.append({"user_id": m.user_id, "email": user.email if user else "a user",
                    "role": user.role if user else "", "since": m.created_at})
    return out


def dashboard(session: Session, caller: Caller) -> dict[str, Any]:
    """The admin dashboard's figures, as the caller may see them: guests by state, recent failed runs,
    clusters with their nodes' capacity, and the latest audit events."""
    states = {"ready": 0, "not_ready": 0, "deleting": 0}
    for kind in (guests.VM, guests.CONTAINER):
        g = kind.table
        ready = g.c.conditions.contains([{"type": "Ready", "status": "True"}])
        stmt = guests.list_query(kind, caller, include_deleted=True).with_only_columns(
            sa.case((g.c.deleted_at.is_not(None), "deleting"), (ready, "ready"), else_="not_ready").label("state"),
            sa.func.count().label("n")).group_by(sa.text("state"))
        for state, count in session.execute(stmt).all():
            states[state] += int(count)
    failed = session.execute(runs.list_query(caller).where(t.runs.c.state == "failed")
                             .order_by(t.runs.c.created_at.desc()).limit(10)).all()
    return {"states": states, "failed": failed, "clusters": cluster_rows(session),
            "events": audit_events(session, caller, audit.AuditFilter(), limit=10)}


def tenant_rows(session: Session) -> list[sa.Row]:
    """The tenants the caller sees (RLS: admins all, others their own), by name."""
    return list(session.execute(tenants.list_query().order_by(t.tenants.c.name)).all())


def people(session: Session, caller: Caller) -> list[sa.Row]:
    """The users the caller may see, by email."""
    return list(session.execute(users.list_query(caller).order_by(users.U.c.email)).all())


def cluster_rows(session: Session) -> list[tuple[sa.Row, list[sa.Row]]]:
    """Every cluster with its nodes."""
    rows = session.execute(clusters.list_query().order_by(t.clusters.c.name)).all()
    nodes = clusters.nodes_of(session, [r.id for r in rows])
    return [(r, nodes[r.id]) for r in rows]


def audit_events(session: Session, caller: Caller, flt: audit.AuditFilter, limit: int = 100) -> list[sa.Row]:
    """The newest audit events the caller may read that match ``flt``."""
    stmt = audit.search_query(caller, flt).order_by(t.audit_events.c.id.desc()).limit(limit)
    return list(session.execute(stmt).all())
