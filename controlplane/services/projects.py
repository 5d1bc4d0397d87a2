"""Projects with quotas and members: managers run their tenant's projects; users see those they belong to."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import Session

from controlplane.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from controlplane.models import tables as t
from controlplane.models.tenancy import MembershipCreate, ProjectCreate, ProjectUpdate, Quota
from controlplane.services import audit, authz, tenants, versioning
from controlplane.services.caller import Caller

P = t.projects
M = t.memberships


def quota_of(row: Any) -> Quota:
    """The quota columns of a project row as a Quota."""
    return Quota.of_row(row)


def list_query(caller: Caller) -> sa.Select:
    """Projects the caller may see (users: those they are members of; RLS limits the tenant)."""
    stmt = sa.select(P)
    member_of = authz.visible_project_ids(caller)
    if member_of is not None:
        stmt = stmt.where(P.c.id.in_(member_of))
    return stmt


def get(session: Session, caller: Caller, project_id: UUID) -> sa.Row:
    """One project the caller may see."""
    row = session.execute(list_query(caller).where(P.c.id == project_id)).first()
    if row is None:
        raise NotFound("no such project")
    return row


def resolve(session: Session, caller: Caller, name: str | None, project_id: UUID | None,
            *, field: str = "project") -> sa.Row:
    """The project named ``name`` or with ``project_id`` among those the caller may see."""
    stmt = list_query(caller)
    if project_id is not None:
        stmt = stmt.where(P.c.id == project_id)
    elif name is not None:
        stmt = stmt.where(P.c.name == name)
    else:
        raise InvalidInput("give the project (name) or project_id", field=field)
    rows = session.execute(stmt.limit(2)).all()
    if not rows:
        raise InvalidInput("no such project", field=field)
    if len(rows) > 1:
        raise InvalidInput("project name is ambiguous across tenants; give project_id", field=field)
    return rows[0]


def create(session: Session, caller: Caller, body: ProjectCreate) -> sa.Row:
    """A new project in the caller's tenant (admins name the tenant)."""
    tenant_id = tenants.resolve(session, body.tenant, body.tenant_id, default=caller.tenant_id)
    authz.require_manager(caller, "create projects", tenant_id)
    if not body.quota.is_unlimited:
        authz.require_admin(caller, "set quotas (the project is bounded by its tenant's quota)")
    row = session.execute(
        sa.insert(P).values(tenant_id=tenant_id, name=body.name, description=body.description,
                            **body.quota.columns()).returning(P)
    ).one()
    audit.record(session, caller, "project.create", target_kind="Project", target_id=row.id, target_name=row.name,
                 tenant_id=tenant_id, details={"quota": body.quota.model_dump()})
    return row


def update(session: Session, caller: Caller, project_id: UUID, body: ProjectUpdate,
           expected: int | None = None) -> sa.Row:
    """Change a project's description (managers of its tenant) or quota (admins; the unchanged quota may be
    sent back by anyone allowed to change the project); ``expected`` is the If-Match version."""
    current = get(session, caller, project_id)
    authz.require_manager(caller, "change projects", current.tenant_id)
    values: dict[str, Any] = {}
    if body.description is not None:
        values["description"] = body.description
    if body.quota is not None and body.quota != quota_of(current):
        authz.require_admin(caller, "change quotas")
        values.update(body.quota.columns())
    row = versioning.update(session, P, project_id, expected, "project", values)
    audit.record(session, caller, "project.update", target_kind="Project", target_id=row.id, target_name=row.name,
                 tenant_id=row.tenant_id, details={"fields": sorted(values)})
    return row


def delete(session: Session, caller: Caller, project_id: UUID, expected: int | None = None) -> None:
    """Delete an empty project (managers of its tenant); refused while guests exist."""
    current = get(session, caller, project_id)
    authz.require_manager(caller, "delete projects", current.tenant_id)
    for table in (t.virtual_machines, t.containers):
        if session.execute(sa.select(table.c.id).where(table.c.project_id == project_id).limit(1)).first():
            raise Conflict("the project still has guests; delete them first")
    versioning.delete(session, P, project_id, expected, "project")
    audit.record(session, caller, "project.delete", target_kind="Project", target_id=current.id,
                 target_name=current.name, tenant_id=current.tenant_id)


def list_members(session: Session, caller: Caller, project_id: UUID) -> list[sa.Row]:
    """The memberships of a project the caller may see."""
    get(session, caller, project_id)
    return list(session.execute(sa.select(M).where(M.c.project_id == project_id).order_by(M.c.created_at)).all())


def add_member(session: Session, caller: Caller, project_id: UUID, body: MembershipCreate) -> sa.Row:
    """Make a user of the project's tenant a member (managers of the tenant)."""
    project = get(session, caller, project_id)
    authz.require_manager(caller, "change project members", project.tenant_id)
    u = t.users
    stmt = sa.select(u.c.id, u.c.tenant_id).where(u.c.tenant_id == project.tenant_id)
    if body.user_id is not None:
        stmt = stmt.where(u.c.id == body.user_id)
    elif body.email is not None:
        stmt = stmt.where(sa.func.lower(u.c.email) == body.email.strip().lower())
    else:
        raise InvalidInput("give user_id or email", field="user_id")
    user = session.execute(stmt).first()
    if user is None:
        raise InvalidInput("no such user in the project's tenant", field="user_id")
    row = session.execute(
        sa.insert(M).values(tenant_id=project.tenant_id, user_id=user.id, project_id=project_id).returning(M)
    ).one()
    audit.record(session, caller, "project.member_add", target_kind="Project", target_id=project_id,
                 target_name=project.name, tenant_id=project.tenant_id, details={"user_id": str(user.id)})
    return row


def remove_member(session: Session, caller: Caller, project_id: UUID, user_id: UUID) -> None:
    """End a user's membership (managers of the tenant)."""
    project = get(session, caller, project_id)
    authz.require_manager(caller, "change project members", project.tenant_id)
    deleted = session.execute(sa.delete(M).where(M.c.project_id == project_id, M.c.user_id == user_id)).rowcount
    if not deleted:
        raise NotFound("no such member")
    audit.record(session, caller, "project.member_remove", target_kind="Project", target_id=project_id,
                 target_name=project.name, tenant_id=project.tenant_id, details={"user_id": str(user_id)})


def require_write(session: Session, caller: Caller, project: sa.Row) -> None:
    """Writing guests of a project: managers of its tenant and its members."""
    if authz.can_manage_project(caller, project.tenant_id) or authz.is_member(session, caller, project.id):
        return
    raise PermissionDenied("not a member of this project")
