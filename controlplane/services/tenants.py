"""Tenants: admins create and delete them and set their quotas; managers rename their own; everyone else sees
only their own."""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import Session

from controlplane.errors import InvalidInput, NotFound
from controlplane.models import tables as t
from controlplane.models.tenancy import Quota, TenantCreate, TenantUpdate
from controlplane.services import audit, authz, versioning
from controlplane.services.caller import Caller

T = t.tenants


def get(session: Session, caller: Caller, tenant_id: UUID) -> sa.Row:
    """One tenant the caller may see."""
    row = session.execute(sa.select(T).where(T.c.id == tenant_id)).first()
    if row is None:
        raise NotFound("no such tenant")
    return row


def resolve(session: Session, name: str | None, tenant_id: UUID | None, *, default: UUID | None = None,
            field: str = "tenant") -> UUID:
    """The id of the tenant named ``name`` or with ``tenant_id`` (as visible to the caller); ``default`` (the
    caller's own tenant) when neither is given."""
    if name is None and tenant_id is None and default is not None:
        return default
    if tenant_id is not None:
        row = session.execute(sa.select(T.c.id).where(T.c.id == tenant_id)).first()
    elif name is not None:
        row = session.execute(sa.select(T.c.id).where(T.c.name == name)).first()
    else:
        raise InvalidInput("give the tenant (name) or tenant_id", field=field)
    if row is None:
        raise InvalidInput("no such tenant", field=field)
    return row.id


def ids_named(names: list[str]) -> sa.Select:
    """The ids of the tenants with these names (a subquery for ``?tenant=`` filters)."""
    return sa.select(T.c.id).where(T.c.name.in_(names))


def list_query() -> sa.Select:
    """Every tenant (RLS shows non-admins their own only)."""
    return sa.select(T)


def create(session: Session, caller: Caller, body: TenantCreate,
           default_quota: dict[str, int | None] | None = None) -> sa.Row:
    """A new tenant (admins only), with ``default_quota`` for every limit the body does not name."""
    authz.require_admin(caller, "create tenants")
    quota = body.quota_with(default_quota or {})
    row = session.execute(
        sa.insert(T).values(name=body.name, display_name=body.display_name, **quota.columns()).returning(T)
    ).one()
    audit.record(session, caller, "tenant.create", target_kind="Tenant", target_id=row.id, target_name=row.name,
                 tenant_id=row.id, details={"quota": quota.model_dump()})
    return row


def update(session: Session, caller: Caller, tenant_id: UUID, body: TenantUpdate,
           expected: int | None = None) -> sa.Row:
    """Change a tenant's display name (admins, or the tenant's managers) or quota (admins);
    ``expected`` is the If-Match version."""
    current = get(session, caller, tenant_id)
    authz.require_manager(caller, "change the tenant", tenant_id)
    values: dict[str, object] = {}
    if body.display_name is not None:
        values["display_name"] = body.display_name
    if body.quota is not None and body.quota != Quota.of_row(current):
        authz.require_admin(caller, "change quotas")
        values.update(body.quota.columns())
    row = versioning.update(session, T, tenant_id, expected, "tenant", values)
    audit.record(session, caller, "tenant.update", target_kind="Tenant", target_id=row.id, target_name=row.name,
                 tenant_id=row.id, details={"fields": sorted(values)})
    return row


def delete(session: Session, caller: Caller, tenant_id: UUID, expected: int | None = None) -> None:
    """Delete a tenant with its projects and users; refused while it still has guests (admins only)."""
    row = get(session, caller, tenant_id)
    authz.require_admin(caller, "delete tenants")
    versioning.delete(session, T, tenant_id, expected, "tenant")
    audit.record(session, caller, "tenant.delete", target_kind="Tenant", target_id=row.id, target_name=row.name,
                 tenant_id=row.id)
