"""Audit events: record one per mutation, login and key use; search them; verify the hash chain.

The application role may insert and read audit events but never update or delete them; a trigger in
the database links each event to the previous one by hash (see migrations 0001 and 0002).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from controlplane.models import tables as t
from controlplane.services import authz
from controlplane.services.caller import Caller

SUCCESS = "success"
FAILURE = "failure"


def record(
    session: Session | Connection,
    caller: Caller,
    action: str,
    *,
    target_kind: str = "",
    target_id: object = "",
    target_name: str = "",
    result: str = SUCCESS,
    tenant_id: UUID | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one event (in the caller's transaction, so it commits or rolls back with the change)."""
    session.execute(
        sa.insert(t.audit_events).values(
            tenant_id=tenant_id if tenant_id is not None else caller.tenant_id,
            actor=caller.actor,
            actor_id=caller.user_id,
            action=action,
            target_kind=target_kind,
            target_id=str(target_id or ""),
            target_name=target_name,
            result=result,
            ip=caller.ip,
            user_agent=caller.user_agent,
            request_id=caller.request_id,
            details=details or {},
        )
    )


@dataclass
class AuditFilter:
    """Search criteria; every field is optional and lists mean any of."""

    actor: list[str] | None = None
    actor_id: list[UUID] | None = None
    action: list[str] | None = None
    target: list[str] | None = None
    target_kind: list[str] | None = None
    result: list[str] | None = None
    since: datetime | None = None
    until: datetime | None = None


def search_query(caller: Caller, flt: AuditFilter) -> sa.Select:
    """The events the caller may read that match ``flt`` (users: their own; RLS limits tenants)."""
    c = t.audit_events.c
    stmt = sa.select(t.audit_events)
    if caller.role == "user":
        stmt = stmt.where(c.actor_id == caller.user_id)
    if flt.actor:
        stmt = stmt.where(c.actor.in_(flt.actor))
    if flt.actor_id:
        stmt = stmt.where(c.actor_id.in_(flt.actor_id))
    if flt.action:
        stmt = stmt.where(sa.or_(*[c.action.like(a.replace("*", "%")) for a in flt.action]))
    if flt.target:
        stmt = stmt.where(sa.or_(c.target_id.in_(flt.target), c.target_name.in_(flt.target)))
    if flt.target_kind:
        stmt = stmt.where(c.target_kind.in_(flt.target_kind))
    if flt.result:
        stmt = stmt.where(c.result.in_(flt.result))
    if flt.since:
        stmt = stmt.where(c.created_at >= flt.since)
    if flt.until:
        stmt = stmt.where(c.created_at < flt.until)
    return stmt


VERIFY_SQL = sa.text(
    """
SELECT id, chain_seq, prev_hash, hash,
  encode(sha256(convert_to(concat_ws('|', prev_hash, id::text, coalesce(tenant_id::text, ''), actor,
    coalesce(actor_id::text, ''), action, target_kind, target_id, target_name, result, ip, user_agent, request_id,
    details::text, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')), 'UTF8')), 'hex')
    AS recomputed
FROM audit_events ORDER BY chain_seq
"""
)


@dataclass
class ChainReport:
    """The outcome of a verification: how many events were checked and the first problem found."""

    checked: int
    ok: bool
    problem: str = ""


def verify_chain(connection: Connection) -> ChainReport:
    """Recompute every event's hash and link, in chain order; run as the owner role to see every tenant."""
    return _verify(connection.execute(VERIFY_SQL))


ADMIN_CHAIN_SQL = sa.text("SELECT id, chain_seq, prev_hash, hash, recomputed FROM cp_audit_chain_rows()")


def verify_chain_as(session: Session, caller: Caller) -> ChainReport:
    """The same verification for an admin working as the application role (the portal's audit page)."""
    authz.require_admin(caller, "verify the audit chain")
    return _verify(session.execute(ADMIN_CHAIN_SQL))


def _verify(rows: Any) -> ChainReport:
    previous_hash = ""
    previous_seq = 0
    checked = 0
    for row in rows:
        checked += 1
        if row.chain_seq != previous_seq + 1:
            return ChainReport(checked, False, f"event {row.id}: events are missing before it (sequence gap)")
        if row.prev_hash != previous_hash:
            return ChainReport(checked, False, f"event {row.id}: does not link to the event before it")
        if row.recomputed != row.hash:
            return ChainReport(checked, False, f"event {row.id}: content does not match its hash (modified)")
        previous_hash, previous_seq = row.hash, row.chain_seq
    return ChainReport(checked, True)
