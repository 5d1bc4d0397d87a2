"""API keys: each user creates keys for themselves with scopes and an expiry; the secret is shown once."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import Session

from controlplane.errors import InvalidInput, NotFound, PermissionDenied
from controlplane.models import tables as t
from controlplane.models.identity import ApiKeyCreate
from controlplane.services import audit, versioning
from controlplane.services.caller import Caller
from controlplane.services.secrets_hash import hash_token

K = t.api_keys
PUBLIC_COLUMNS = [K.c.id, K.c.user_id, K.c.name, K.c.prefix, K.c.scopes, K.c.expires_at, K.c.revoked_at,
                  K.c.last_used_at, K.c.created_at, K.c.resource_version]
DEFAULT_TTL = timedelta(days=90)
MAX_TTL = timedelta(days=366)


def list_query(caller: Caller) -> sa.Select:
    """The caller's own keys (admins and managers see the keys of users they manage, via ?user_id)."""
    stmt = sa.select(*PUBLIC_COLUMNS)
    if caller.role == "user":
        stmt = stmt.where(K.c.user_id == caller.user_id)
    return stmt


def create(session: Session, caller: Caller, body: ApiKeyCreate) -> tuple[sa.Row, str]:
    """A new key for the caller; returns the row and the key (``cp_<prefix>_<secret>``), shown only now."""
    if caller.api_key_id is not None:
        raise PermissionDenied("API keys cannot create API keys; log in with a password")
    now = datetime.now(UTC)
    expires = body.expires_at or now + DEFAULT_TTL
    if expires.tzinfo is None:
        raise InvalidInput("expires_at needs a time zone", field="expires_at")
    if not now < expires <= now + MAX_TTL:
        raise InvalidInput("expires_at must be in the future and within a year", field="expires_at")
    prefix, secret = secrets.token_hex(6), secrets.token_hex(24)
    row = session.execute(
        sa.insert(K).values(tenant_id=caller.tenant_id, user_id=caller.user_id, name=body.name, prefix=prefix,
                            secret_hash=hash_token(secret), scopes=sorted(set(body.scopes)), expires_at=expires)
        .returning(*PUBLIC_COLUMNS)
    ).one()
    audit.record(session, caller, "api_key.create", target_kind="ApiKey", target_id=row.id, target_name=prefix,
                 details={"scopes": list(row.scopes)})
    return row, f"cp_{prefix}_{secret}"


def revoke(session: Session, caller: Caller, key_id: UUID, expected: int | None = None) -> sa.Row:
    """Revoke a key: its owner, or a manager of the tenant, or an admin; ``expected`` is the If-Match version."""
    row = session.execute(sa.select(K).where(K.c.id == key_id)).first()
    if row is None or (caller.role == "user" and row.user_id != caller.user_id):
        raise NotFound("no such API key")
    if row.user_id != caller.user_id and not (caller.is_admin or caller.is_manager):
        raise NotFound("no such API key")
    revoked = {"revoked_at": sa.func.coalesce(K.c.revoked_at, sa.func.now())}
    updated = versioning.update(session, K, key_id, expected, "API key", revoked, PUBLIC_COLUMNS)
    audit.record(session, caller, "api_key.revoke", target_kind="ApiKey", target_id=key_id, target_name=row.prefix,
                 tenant_id=row.tenant_id)
    return updated


def own_keys(session: Session, caller: Caller) -> list[sa.Row]:
    """The caller's own keys, newest first."""
    stmt = list_query(caller).where(K.c.user_id == caller.user_id).order_by(K.c.created_at.desc())
    return list(session.execute(stmt).all())
