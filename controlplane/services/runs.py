"""Reconciler runs and their logs, read-only: what each caller may see follows the guests they may see."""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import Session

from controlplane.errors import NotFound
from controlplane.models import tables as t
from controlplane.services import guests
from controlplane.services.caller import Caller

R = t.runs


def list_query(caller: Caller) -> sa.Select:
    """Runs the caller may see (users: runs of guests visible to them; RLS limits the tenant)."""
    stmt = sa.select(R)
    if caller.role == "user":
        visible = sa.union_all(
            guests.list_query(guests.VM, caller, include_deleted=True).with_only_columns(t.virtual_machines.c.id),
            guests.list_query(guests.CONTAINER, caller, include_deleted=True).with_only_columns(t.containers.c.id),
        )
        stmt = stmt.where(R.c.target_id.in_(sa.select(visible.subquery().c.id)))
    return stmt


def get(session: Session, caller: Caller, run_id: UUID) -> sa.Row:
    """One run the caller may see."""
    row = session.execute(list_query(caller).where(R.c.id == run_id)).first()
    if row is None:
        raise NotFound("no such run")
    return row


def log(session: Session, caller: Caller, run_id: UUID, *, after: int = 0, limit: int = 1000) -> list[sa.Row]:
    """Log lines of a run after sequence number ``after``."""
    get(session, caller, run_id)
    entries = t.run_log_entries
    return list(session.execute(
        sa.select(entries).where(entries.c.run_id == run_id, entries.c.seq > after)
        .order_by(entries.c.seq).limit(limit)
    ).all())
