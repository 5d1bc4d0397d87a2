"""API schemas of tenants, projects (with quotas) and project memberships."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from controlplane.models.common import Count, DnsLabel, LongText, ResourceVersion, ShortText, Strict


class TenantCreate(Strict):
    """A new tenant."""

    name: DnsLabel
    display_name: ShortText = ""


class TenantUpdate(Strict):
    """Fields of a tenant that may change."""

    display_name: ShortText | None = None


class TenantPublic(BaseModel):
    """A tenant as the API returns it."""

    id: UUID
    name: str
    display_name: str
    created_at: datetime
    updated_at: datetime
    resource_version: ResourceVersion


class Quota(Strict):
    """Per-project limits; ``null`` means unlimited."""

    vcpus: Count | None = Field(None, ge=0, le=1_000_000)
    memory_mb: Count | None = Field(None, ge=0, le=2**53)
    disk_gb: Count | None = Field(None, ge=0, le=2**53)
    guests: Count | None = Field(None, ge=0, le=1_000_000)


class ProjectCreate(Strict):
    """A new project, in a tenant named by ``tenant`` or ``tenant_id`` (managers: their own by default)."""

    name: DnsLabel
    tenant: DnsLabel | None = None
    tenant_id: UUID | None = None
    description: LongText = ""
    quota: Quota = Field(default_factory=Quota)


class ProjectUpdate(Strict):
    """Fields of a project that may change."""

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
