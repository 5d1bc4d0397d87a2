"""``/api/v1/users``: admins manage everyone, managers their tenant's users; users see themselves."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response, status

from controlplane.api.deps import DbDep
from controlplane.api.etag import PRECONDITION, ExpectedVersion, tagged
from controlplane.api.listparams import list_params, multi
from controlplane.models import tables as t
from controlplane.models.common import Page
from controlplane.models.identity import UserCreate, UserPublic, UserUpdate
from controlplane.services import tenants, users
from controlplane.services.listing import ListParams, paginate

router = APIRouter(prefix="/users", tags=["users"])
U = t.users


def _public(row: object) -> UserPublic:
    return UserPublic.model_validate(row, from_attributes=True)


@router.get("", response_model=Page[UserPublic], operation_id="listUsers")
def list_users(
    db: DbDep, params: Annotated[ListParams, Depends(list_params)],
    tenant_id: Annotated[list[UUID] | None, Query()] = None,
    tenant: Annotated[list[str] | None, Query(description="tenant names")] = None,
    role: Annotated[list[str] | None, Query()] = None,
    email: Annotated[list[str] | None, Query()] = None,
) -> Page[UserPublic]:
    """Users the caller may see."""
    stmt = users.list_query(db.caller)
    if tenant_id:
        stmt = stmt.where(U.c.tenant_id.in_(tenant_id))
    if names := multi(tenant):
        stmt = stmt.where(U.c.tenant_id.in_(tenants.ids_named(names)))
    if roles := multi(role):
        stmt = stmt.where(U.c.role.in_(roles))
    if emails := multi(email):
        stmt = stmt.where(U.c.email.in_([e.lower() for e in emails]))
    rows, cursor = db.read(lambda s: paginate(
        s, stmt, params, id_column=U.c.id, default_sort="email",
        sortable={"email": U.c.email, "created_at": U.c.created_at, "role": U.c.role}, search=[U.c.email],
    ))
    return Page(items=[_public(r) for r in rows], next_cursor=cursor)


@router.post("", response_model=UserPublic, status_code=status.HTTP_201_CREATED, operation_id="createUser")
def create_user(body: UserCreate, db: DbDep, response: Response) -> UserPublic:
    """A new user (no sign-up: admins, and managers within their tenant)."""
    return _public(tagged(response, db.write("user.create", lambda s: users.create(s, db.caller, body),
                                             target_kind="User")))


@router.get("/{user_id}", response_model=UserPublic, operation_id="getUser")
def get_user(user_id: UUID, db: DbDep, response: Response) -> UserPublic:
    """One user (with its version as the ETag)."""
    return _public(tagged(response, db.read(lambda s: users.get(s, db.caller, user_id))))


@router.patch("/{user_id}", response_model=UserPublic, operation_id="updateUser", responses=PRECONDITION)
def update_user(user_id: UUID, body: UserUpdate, db: DbDep, response: Response,
                expected: ExpectedVersion) -> UserPublic:
    """Change role, activity or password (If-Match: only while unchanged)."""
    row = db.write("user.update", lambda s: users.update(s, db.caller, user_id, body, expected),
                   target_kind="User", target=user_id)
    return _public(tagged(response, row))


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT, operation_id="deleteUser", responses=PRECONDITION)
def delete_user(user_id: UUID, db: DbDep, expected: ExpectedVersion) -> Response:
    """Remove a user (If-Match: only while unchanged)."""
    db.write("user.delete", lambda s: users.delete(s, db.caller, user_id, expected), target_kind="User",
             target=user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
