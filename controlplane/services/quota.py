"""Tenant and project quotas, enforced atomically: the tenant row, then the project row, are locked while
usage is summed and the guest written.

Concurrent creates in one tenant queue on ``SELECT ... FOR UPDATE`` of the tenant (then of the project), so
the sums each one sees include every guest committed before it: neither quota can ever be exceeded. Only
admins set quotas (see ``services.tenants`` and ``services.projects``).
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import Session

from controlplane.errors import QuotaExceeded
from controlplane.models import tables as t
from controlplane.models.guest import Spec
from controlplane.models.tenancy import Quota, Usage


@dataclass(frozen=True)
class Ask:
    """What one guest takes up."""

    vcpus: int
    memory_mb: int
    disk_gb: int
    guests: int = 1

    @classmethod
    def of(cls, spec: Spec) -> Ask:
        """The resources ``spec`` asks for."""
        return cls(vcpus=spec.cores, memory_mb=spec.memory_mb, disk_gb=spec.disk_gb)


def _usage_select(table: sa.Table, owner: sa.ColumnElement[bool], exclude: UUID | None) -> sa.Select:
    spec = table.c.spec
    disks = sa.select(sa.func.coalesce(sa.func.sum(sa.cast(sa.literal_column("d->>'size_gb'"), sa.BigInteger)), 0)) \
        .select_from(sa.func.jsonb_array_elements(spec["disks"]).alias("d")).scalar_subquery()
    stmt = sa.select(
        sa.func.coalesce(sa.func.sum(sa.cast(spec["cores"].astext, sa.BigInteger)), 0).label("vcpus"),
        sa.func.coalesce(sa.func.sum(sa.cast(spec["memory_mb"].astext, sa.BigInteger)), 0).label("memory_mb"),
        sa.func.coalesce(sa.func.sum(disks), 0).label("disk_gb"),
        sa.func.count().label("guests"),
    ).where(owner, table.c.deleted_at.is_(None))
    if exclude is not None:
        stmt = stmt.where(table.c.id != exclude)
    return stmt


def _usage(session: Session, column: str, owner_id: UUID, exclude: UUID | None) -> Usage:
    total = {"vcpus": 0, "memory_mb": 0, "disk_gb": 0, "guests": 0}
    for table in (t.virtual_machines, t.containers):
        row = session.execute(_usage_select(table, table.c[column] == owner_id, exclude)).one()
        for key in total:
            total[key] += int(getattr(row, key))
    return Usage(**total)


def usage(session: Session, project_id: UUID, *, exclude: UUID | None = None) -> Usage:
    """What the project's live guests (VMs and containers) take up, optionally without one guest."""
    return _usage(session, "project_id", project_id, exclude)


def usage_by_project(session: Session, project_ids: list[UUID]) -> dict[UUID, Usage]:
    """What the live guests of each of ``project_ids`` take up: one query per guest table, however many
    projects."""
    totals = {pid: {"vcpus": 0, "memory_mb": 0, "disk_gb": 0, "guests": 0} for pid in project_ids}
    if not project_ids:
        return {}
    for table in (t.virtual_machines, t.containers):
        stmt = _usage_select(table, table.c.project_id.in_(project_ids), None) \
            .add_columns(table.c.project_id).group_by(table.c.project_id)
        for row in session.execute(stmt):
            for key, total in totals[row.project_id].items():
                totals[row.project_id][key] = total + int(getattr(row, key))
    return {pid: Usage(**total) for pid, total in totals.items()}


def tenant_usage(session: Session, tenant_id: UUID, *, exclude: UUID | None = None) -> Usage:
    """What all the tenant's live guests take up, optionally without one guest."""
    return _usage(session, "tenant_id", tenant_id, exclude)


def _check(owner: str, limits: Quota, used: Usage, ask: Ask) -> None:
    for name in ("vcpus", "memory_mb", "disk_gb", "guests"):
        limit, in_use, asked = getattr(limits, name), getattr(used, name), getattr(ask, name)
        if limit is not None and in_use + asked > limit:
            raise QuotaExceeded(f"quota exceeded for {owner}: {name} limit {limit}, used {in_use}, asked {asked}",
                                field=name)


def admit(session: Session, project_id: UUID, ask: Ask, *, exclude: UUID | None = None) -> None:
    """Lock the tenant and the project and refuse (409) when ``ask`` on top of current usage exceeds a limit of
    either."""
    p, tn = t.projects, t.tenants
    tenant_id = session.execute(sa.select(p.c.tenant_id).where(p.c.id == project_id)).scalar_one()
    tenant = session.execute(sa.select(tn).where(tn.c.id == tenant_id).with_for_update()).one()
    project = session.execute(sa.select(p).where(p.c.id == project_id).with_for_update()).one()
    # the locks are held even without limits, so a quota set meanwhile waits for this create
    tenant_quota, project_quota = Quota.of_row(tenant), Quota.of_row(project)
    if not tenant_quota.is_unlimited:
        _check(f"tenant {tenant.name!r}", tenant_quota, tenant_usage(session, tenant_id, exclude=exclude), ask)
    if not project_quota.is_unlimited:
        _check(f"project {project.name!r}", project_quota, usage(session, project_id, exclude=exclude), ask)
