"""API schemas of tenants and projects (each with a quota) and project memberships.

Quotas are limits set by admins: a tenant's quota bounds all its guests together, a project's quota bounds
that project's guests; a guest is admitted only within both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from controlplane.models.common import Count, DnsLabel, LongText, ResourceVersion, ShortText, Strict


class Quota(Strict):
    """Limits on what guests may take up; ``null`` means unlimited."""

    vcpus: Count | None = Field(None, ge=0, le=1_000_000)
    memory_mb: Count | None = Field(None, ge=0, le=2**53)
    disk_gb: Count | None = Field(None, ge=0, le=2**53)
    guests: Count | None = Field(None, ge=0, le=1_000_000)

    @classmethod
    def of_row(cls, row: Any) -> Quota:
        """The ``quota_*`` columns of a tenant or project row."""
        return cls(vcpus=row.quota_vcpus, memory_mb=row.quota_memory_mb, disk_gb=row.quota_disk_gb,
                   guests=row.quota_guests)

    def columns(self) -> dict[str, int | None]:
        """The values of the ``quota_*`` columns."""
        return {f"quota_{name}": value for name, value in self.model_dump().items()}

    @property
    def is_unlimited(self) -> bool:
        """No limit set at all."""
        return all(value is None for value in self.model_dump().values())


class TenantCreate(Strict):
    """A new tenant; quota limits not given take the configured default (admins only)."""

    name: DnsLabel
    display_name: ShortText = ""
    quota: Quota = Field(default_factory=Quota, description="Limits for all the tenant's guests together; a limit "
                         "left out takes CONTROLPLANE_DEFAULT_TENANT_QUOTA_*, null means none.")

    def quota_with(self, defaults: dict[str, int | None]) -> Quota:
        """The quota to store: the limits given, and ``defaults`` for the others."""
        given = self.quota.model_dump(exclude_unset=True)
        return Quota.model_validate({**defaults, **given})


class TenantUpdate(Strict):
    """Fields of a tenant that may change (the quota: by admins only)."""

    display_name: ShortText | None = None
    quota: Quota | None = None


class TenantPublic(BaseModel):
    """A tenant as the API returns it."""

    id: UUID
    name: str
    display_name: str
    quota: Quota
    created_at: datetime
    updated_at: datetime
    resource_version: ResourceVersion

    @model_validator(mode="before")
    @classmethod
    def _quota_from_columns(cls, data: Any) -> Any:
        if not isinstance(data, dict) and hasattr(data, "quota_guests"):
            return {**dict(data._mapping), "quota": Quota.of_row(data)}
        return data


class ProjectCreate(Strict):
    """A new project, in a tenant named by ``tenant`` or ``tenant_id`` (managers: their own by default);
    only admins give it a quota."""

    name: DnsLabel
    tenant: DnsLabel | None = None
    tenant_id: UUID | None = None
    description: LongText = ""
    quota: Quota = Field(default_factory=Quota)


class ProjectUpdate(Strict):
    """Fields of a project that may change (the quota: by admins only)."""

    description: LongText | None = None
    quota: Quota | None = None


class Usage(BaseModel):
    """What a project's guests take up."""

    vcpus: int
    memory_mb: int
    disk_gb: int
    guests: int


class ProjectPublic(BaseModel):
    """A project as the API returns it."""

    id: UUID
    tenant_id: UUID
    name: str
    description: str
    quota: Quota
    created_at: datetime
    updated_at: datetime
    resource_version: ResourceVersion


class MembershipCreate(Strict):
    """Make a user a member of the project."""

    user_id: UUID | None = None
    email: ShortText | None = None


class MembershipPublic(BaseModel):
    """A user's membership of a project."""

    id: UUID
    project_id: UUID
    user_id: UUID
    created_at: datetime
