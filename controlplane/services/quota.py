"""Project quotas, enforced atomically: the project row is locked while usage is summed and the guest written.

Concurrent creates in one project queue on ``SELECT ... FOR UPDATE`` of the project, so the sum each one
sees includes every guest committed before it: the quota can never be exceeded.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import Session

from controlplane.errors import QuotaExceeded
from controlplane.models import tables as t
from controlplane.models.guest import Spec
from controlplane.models.tenancy import Usage


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


def _usage_select(table: sa.Table, project_id: UUID, exclude: UUID | None) -> sa.Select:
    spec = table.c.spec
    disks = sa.select(sa.func.coalesce(sa.func.sum(sa.cast(sa.literal_column("d->>'size_gb'"), sa.BigInteger)), 0)) \
        .select_from(sa.func.jsonb_array_elements(spec["disks"]).alias("d")).scalar_subquery()
    stmt = sa.select(
        sa.func.coalesce(sa.func.sum(sa.cast(spec["cores"].astext, sa.BigInteger)), 0).label("vcpus"),
        sa.func.coalesce(sa.func.sum(sa.cast(spec["memory_mb"].astext, sa.BigInteger)), 0).label("memory_mb"),
        sa.func.coalesce(sa.func.sum(disks), 0).label("disk_gb"),
        sa.func.count().label("guests"),
    ).where(table.c.project_id == project_id, table.c.deleted_at.is_(None))
    if exclude is not None:
        stmt = stmt.where(table.c.id != exclude)
    return stmt


def usage(session: Session, project_id: UUID, *, exclude: UUID | None = None) -> Usage:
    """What the project's live guests (VMs and containers) take up, optionally without one guest."""
    total = {"vcpus": 0, "memory_mb": 0, "disk_gb": 0, "guests": 0}
    for table in (t.virtual_machines, t.containers):
        row = session.execute(_usage_select(table, project_id, exclude)).one()
        for key in total:
            total[key] += int(getattr(row, key))
    return Usage(**total)


def admit(session: Session, project_id: UUID, ask: Ask, *, exclude: UUID | None = None) -> None:
    """Lock the project and refuse (409) when ``ask`` on top of current usage exceeds a limit."""
    p = t.projects
    project = session.execute(sa.select(p).where(p.c.id == project_id).with_for_update()).one()
    if all(limit is None for limit in (project.quota_vcpus, project.quota_memory_mb, project.quota_disk_gb,
                                       project.quota_guests)):
        return  # no limit to check; the lock is still held, so a quota set meanwhile waits for this create
    used = usage(session, project_id, exclude=exclude)
    limits = [
        ("vcpus", project.quota_vcpus, used.vcpus, ask.vcpus),
        ("memory_mb", project.quota_memory_mb, used.memory_mb, ask.memory_mb),
        ("disk_gb", project.quota_disk_gb, used.disk_gb, ask.disk_gb),
        ("guests", project.quota_guests, used.guests, ask.guests),
    ]
    for name, limit, in_use, asked in limits:
        if limit is not None and in_use + asked > limit:
            raise QuotaExceeded(
                f"quota exceeded for project {project.name!r}: {name} limit {limit}, used {in_use}, asked {asked}",
                field=name,
            )
