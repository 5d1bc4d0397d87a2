"""Versioned writes: every update bumps ``resource_version``, and an expected version (from ``If-Match``) is
checked in the same statement as the write, so of two writers holding the same version exactly one wins.

Used by the services of tenants, projects, users, clusters and API keys (the guests check their own).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import Session

from controlplane.errors import NotFound, PreconditionFailed


def _where(table: sa.Table, row_id: UUID, expected: int | None) -> sa.ColumnElement[bool]:
    clause = table.c.id == row_id
    if expected is not None:
        clause = clause & (table.c.resource_version == expected)
    return clause


def _missed(noun: str, expected: int | None) -> Exception:
    """Why a guarded statement touched no row: the object changed (or went) since ``expected``, or is gone."""
    if expected is None:
        return NotFound(f"no such {noun}")
    return PreconditionFailed(f"the {noun} changed since version {expected} (If-Match); read it again")


def update(session: Session, table: sa.Table, row_id: UUID, expected: int | None, noun: str,
           values: dict[str, Any], returning: list[Any] | None = None) -> sa.Row:
    """``UPDATE table SET values, resource_version + 1, updated_at = now()`` where the id (and, when given,
    the version) match; returns the new row (``returning`` columns, default all)."""
    stmt = sa.update(table).where(_where(table, row_id, expected)).values(
        **values, resource_version=table.c.resource_version + 1,
        **({"updated_at": sa.func.now()} if "updated_at" in table.c else {}),
    )
    row = session.execute(stmt.returning(*(returning or [table]))).first()
    if row is None:
        raise _missed(noun, expected)
    return row


def delete(session: Session, table: sa.Table, row_id: UUID, expected: int | None, noun: str) -> None:
    """``DELETE`` the row when the id (and, when given, the version) match."""
    if session.execute(sa.delete(table).where(_where(table, row_id, expected))).rowcount == 0:
        raise _missed(noun, expected)
