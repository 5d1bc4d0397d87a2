"""``/api/v1/api-keys``: keys for automation; the key is shown once, at creation."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Response, status

from controlplane.api.deps import DbDep
from controlplane.api.etag import PRECONDITION, ExpectedVersion, tagged
from controlplane.api.listparams import list_params
from controlplane.models import tables as t
from controlplane.models.common import Page
from controlplane.models.identity import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic
from controlplane.services import api_keys
from controlplane.services.listing import ListParams, paginate

router = APIRouter(prefix="/api-keys", tags=["api-keys"])
K = t.api_keys


@router.get("", response_model=Page[ApiKeyPublic], operation_id="listApiKeys")
def list_keys(
    db: DbDep, params: Annotated[ListParams, Depends(list_params)],
    user_id: Annotated[list[UUID] | None, Query()] = None,
    active: Annotated[bool | None, Query(description="only keys neither revoked nor expired")] = None,
) -> Page[ApiKeyPublic]:
    """The caller's keys (managers and admins also those of users they manage)."""
    stmt = api_keys.list_query(db.caller)
    if user_id:
        stmt = stmt.where(K.c.user_id.in_(user_id))
    elif db.caller.role != "user":
        stmt = stmt.where(K.c.user_id == db.caller.user_id)
    if active is not None:
        live = (K.c.revoked_at.is_(None)) & ((K.c.expires_at.is_(None)) | (K.c.expires_at > sa.func.now()))
        stmt = stmt.where(live if active else ~live)
    rows, cursor = db.read(lambda s: paginate(
        s, stmt, params, id_column=K.c.id, default_sort="-created_at",
        sortable={"name": K.c.name, "created_at": K.c.created_at}, search=[K.c.name, K.c.prefix],
    ))
    return Page(items=[ApiKeyPublic.model_validate(r, from_attributes=True) for r in rows], next_cursor=cursor)


@router.post("", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED, operation_id="createApiKey")
def create_key(body: ApiKeyCreate, db: DbDep, response: Response) -> ApiKeyCreated:
    """A new key for the caller; the response carries the key, which is never shown again."""
    response.headers["Cache-Control"] = "no-store"
    row, key = db.write("api_key.create", lambda s: api_keys.create(s, db.caller, body), target_kind="ApiKey")
    return ApiKeyCreated(**ApiKeyPublic.model_validate(tagged(response, row), from_attributes=True).model_dump(),
                         key=key)


@router.delete("/{key_id}", response_model=ApiKeyPublic, operation_id="revokeApiKey", responses=PRECONDITION)
def revoke_key(key_id: UUID, db: DbDep, response: Response, expected: ExpectedVersion) -> ApiKeyPublic:
    """Revoke a key (it stops working at once; If-Match: only while unchanged, as listed)."""
    row = db.write("api_key.revoke", lambda s: api_keys.revoke(s, db.caller, key_id, expected),
                   target_kind="ApiKey", target=key_id)
    return ApiKeyPublic.model_validate(tagged(response, row), from_attributes=True)
