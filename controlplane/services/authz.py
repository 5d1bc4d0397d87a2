"""Role-based access decisions. Row-Level Security in the database is the second wall behind these.

Admins may do everything; managers everything inside their tenant; users read the projects they are
members of and write guests there, and read and power single guests assigned to them.
"""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import Session

from controlplane.errors import PermissionDenied
from controlplane.models import tables as t
from controlplane.services.caller import Caller


def require_admin(caller: Caller, what: str) -> None:
    """Only admins may ``what``."""
    if not caller.is_admin:
        raise PermissionDenied(f"only admins may {what}")


def require_manager(caller: Caller, what: str, tenant_id: UUID | None = None) -> None:
    """Admins, or managers of ``tenant_id`` (their own tenant when not given), may ``what``."""
    if caller.is_admin:
        return
    if caller.is_manager and (tenant_id is None or tenant_id == caller.tenant_id):
        return
    raise PermissionDenied(f"only managers of the tenant may {what}")


def is_member(session: Session, caller: Caller, project_id: UUID) -> bool:
    """Whether the caller is a member of the project."""
    if caller.user_id is None:
        return False
    row = session.execute(
        sa.select(t.memberships.c.id).where(
            t.memberships.c.user_id == caller.user_id, t.memberships.c.project_id == project_id
        )
    ).first()
    return row is not None


def can_manage_project(caller: Caller, tenant_id: UUID) -> bool:
    """Admins and the tenant's managers manage a project (quotas, members, every guest)."""
    return caller.is_admin or (caller.is_manager and caller.tenant_id == tenant_id)


def visible_project_ids(caller: Caller) -> sa.ScalarSelect | None:
    """For the ``user`` role, the ids of projects they are a member of; ``None`` when every project shows."""
    if caller.role != "user":
        return None
    return sa.select(t.memberships.c.project_id).where(t.memberships.c.user_id == caller.user_id).scalar_subquery()
