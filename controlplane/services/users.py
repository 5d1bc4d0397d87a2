"""Users: no sign-up; admins create anyone, managers create managers and users of their own tenant."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import sqlalchemy as sa
import sqlalchemy.exc
from sqlalchemy.orm import Session

from controlplane.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from controlplane.models import tables as t
from controlplane.models.identity import UserCreate, UserUpdate
from controlplane.services import audit, authz, sessions, tenants, versioning
from controlplane.services.caller import Caller
from controlplane.services.secrets_hash import hash_password

U = t.users
PUBLIC_COLUMNS = [U.c.id, U.c.tenant_id, U.c.email, U.c.role, U.c.is_active, U.c.created_at, U.c.last_login_at,
                  U.c.resource_version]
# the same answer whichever tenant holds the address: a manager learns nothing about other tenants
EMAIL_TAKEN = "this email address cannot be used for a new account; choose another"


def list_query(caller: Caller) -> sa.Select:
    """Users the caller may see: admins all, managers their tenant's, users themselves."""
    stmt = sa.select(*PUBLIC_COLUMNS)
    if caller.role == "user":
        stmt = stmt.where(U.c.id == caller.user_id)
    return stmt


def get(session: Session, caller: Caller, user_id: UUID) -> sa.Row:
    """One user the caller may see."""
    row = session.execute(list_query(caller).where(U.c.id == user_id)).first()
    if row is None:
        raise NotFound("no such user")
    return row


def create(session: Session, caller: Caller, body: UserCreate) -> sa.Row:
    """A new user with an argon2-hashed password."""
    tenant_id: UUID | None = None
    if body.role == "admin":
        authz.require_admin(caller, "create admins")
        if body.tenant is not None or body.tenant_id is not None:
            raise InvalidInput("admins belong to no tenant", field="tenant")
    else:
        tenant_id = tenants.resolve(session, body.tenant, body.tenant_id, default=caller.tenant_id)
        authz.require_manager(caller, "create users", tenant_id)
    email = body.email.strip().lower()
    if session.execute(sa.text("SELECT 1 FROM cp_login_lookup(:email)"), {"email": email}).first():
        raise Conflict(EMAIL_TAKEN, field="email")
    try:
        with session.begin_nested():
            row = session.execute(
                sa.insert(U).values(tenant_id=tenant_id, email=email, password_hash=hash_password(body.password),
                                    role=body.role).returning(*PUBLIC_COLUMNS)
            ).one()
    except sqlalchemy.exc.IntegrityError as exc:  # created concurrently
        raise Conflict(EMAIL_TAKEN, field="email") from exc
    audit.record(session, caller, "user.create", target_kind="User", target_id=row.id, target_name=row.email,
                 tenant_id=tenant_id, details={"role": body.role})
    return row


def update(session: Session, caller: Caller, user_id: UUID, body: UserUpdate,
           expected: int | None = None) -> sa.Row:
    """Change role, activity or password: managers for their tenant; anyone their own password.
    ``expected`` is the If-Match version."""
    current = get(session, caller, user_id)
    fields = body.model_dump(exclude_unset=True, exclude_none=True)
    is_self = user_id == caller.user_id
    if set(fields) - {"password"} or not is_self:
        if current.role == "admin" or body.role == "admin":
            authz.require_admin(caller, "change admins")
        authz.require_manager(caller, "change users", current.tenant_id)
        if is_self and ("role" in fields or fields.get("is_active") is False):
            raise PermissionDenied("you may not change your own role or deactivate yourself")
    values: dict[str, Any] = {k: v for k, v in fields.items() if k != "password"}
    if "password" in fields:
        values["password_hash"] = hash_password(fields["password"])
    row = versioning.update(session, U, user_id, expected, "user", values, PUBLIC_COLUMNS)
    if "password" in fields or fields.get("is_active") is False or "role" in fields:
        sessions.end_all(session, user_id)
    audit.record(session, caller, "user.update", target_kind="User", target_id=row.id, target_name=row.email,
                 tenant_id=row.tenant_id, details={"fields": sorted(fields)})
    return row


def delete(session: Session, caller: Caller, user_id: UUID, expected: int | None = None) -> None:
    """Remove a user (managers of the tenant; admins for admins); never yourself."""
    current = get(session, caller, user_id)
    if user_id == caller.user_id:
        raise PermissionDenied("you may not delete yourself")
    if current.role == "admin":
        authz.require_admin(caller, "delete admins")
    authz.require_manager(caller, "delete users", current.tenant_id)
    versioning.delete(session, U, user_id, expected, "user")
    audit.record(session, caller, "user.delete", target_kind="User", target_id=current.id,
                 target_name=current.email, tenant_id=current.tenant_id)


def create_unchecked(session: Session, caller: Caller, email: str, password: str, role: str,
                     tenant_name: str | None) -> sa.Row:
    """Create a user from the command line (the operator is trusted; used for the first admin)."""
    body = UserCreate(email=email, password=password, role=role, tenant=tenant_name)  # type: ignore[arg-type]
    return create(session, caller, body)
