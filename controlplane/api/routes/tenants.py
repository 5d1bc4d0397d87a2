"""``/api/v1/tenants``: admins manage tenants; others read their own."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Response, status

from controlplane.api.deps import DbDep, RuntimeDep
from controlplane.api.etag import PRECONDITION, ExpectedVersion, tagged
from controlplane.api.listparams import list_params
from controlplane.models import tables as t
from controlplane.models.common import Page
from controlplane.models.tenancy import TenantCreate, TenantPublic, TenantUpdate
from controlplane.services import tenants
from controlplane.services.listing import ListParams, paginate

router = APIRouter(prefix="/tenants", tags=["tenants"])
T = t.tenants


def _public(row: object) -> TenantPublic:
    return TenantPublic.model_validate(row, from_attributes=True)


@router.get("", response_model=Page[TenantPublic], operation_id="listTenants")
def list_tenants(db: DbDep, params: Annotated[ListParams, Depends(list_params)]) -> Page[TenantPublic]:
    """Tenants the caller may see."""
    rows, cursor = db.read(lambda s: paginate(
        s, tenants.list_query(), params, id_column=T.c.id, default_sort="name",
        sortable={"name": T.c.name, "created_at": T.c.created_at}, search=[T.c.name, T.c.display_name],
    ))
    return Page(items=[_public(r) for r in rows], next_cursor=cursor)


@router.post("", response_model=TenantPublic, status_code=status.HTTP_201_CREATED, operation_id="createTenant")
def create_tenant(body: TenantCreate, db: DbDep, rt: RuntimeDep, response: Response) -> TenantPublic:
    """A new tenant (admins)."""
    defaults = rt.deps.settings.default_tenant_quota()
    row = db.write("tenant.create", lambda s: tenants.create(s, db.caller, body, defaults), target_kind="Tenant")
    return _public(tagged(response, row))


@router.get("/{tenant_id}", response_model=TenantPublic, operation_id="getTenant")
def get_tenant(tenant_id: UUID, db: DbDep, response: Response) -> TenantPublic:
    """One tenant (with its version as the ETag)."""
    return _public(tagged(response, db.read(lambda s: tenants.get(s, db.caller, tenant_id))))


@router.patch("/{tenant_id}", response_model=TenantPublic, operation_id="updateTenant", responses=PRECONDITION)
def update_tenant(tenant_id: UUID, body: TenantUpdate, db: DbDep, response: Response,
                  expected: ExpectedVersion) -> TenantPublic:
    """Change a tenant's display name (If-Match: only while unchanged)."""
    row = db.write("tenant.update", lambda s: tenants.update(s, db.caller, tenant_id, body, expected),
                   target_kind="Tenant", target=tenant_id)
    return _public(tagged(response, row))


@router.delete("/{tenant_id}", status_code=status.HTTP_204_NO_CONTENT, operation_id="deleteTenant",
                responses=PRECONDITION)
def delete_tenant(tenant_id: UUID, db: DbDep, expected: ExpectedVersion) -> Response:
    """Delete a tenant without guests (admins; If-Match: only while unchanged)."""
    db.write("tenant.delete", lambda s: tenants.delete(s, db.caller, tenant_id, expected), target_kind="Tenant",
             target=tenant_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
