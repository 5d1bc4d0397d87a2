"""Engines and sessions: one factory per role, and transactions that carry the caller's tenant context."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from controlplane.db.roles import APP_ROLE


def sqlalchemy_url(url: str) -> str:
    """Turn a ``postgresql://`` URL into the SQLAlchemy form that uses psycopg 3."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {url.split('@')[-1]}")


def create_engine(url: str, *, set_role: str | None = None, pool_size: int = 5) -> Engine:
    """An engine for ``url``; with ``set_role`` every connection switches to that role first."""
    engine = sa.create_engine(sqlalchemy_url(url), pool_size=pool_size, pool_pre_ping=True, future=True)
    if set_role is not None:

        @event.listens_for(engine, "connect")
        def _set_role(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            with dbapi_connection.cursor() as cursor:
                cursor.execute(f'SET ROLE "{set_role}"')
            dbapi_connection.commit()

    return engine


def create_app_engine(app_url: str | None, owner_url: str, *, pool_size: int = 5) -> Engine:
    """The engine of the application role: its own URL, or the owner's URL with ``SET ROLE``."""
    if app_url is not None:
        return create_engine(app_url, pool_size=pool_size)
    return create_engine(owner_url, set_role=APP_ROLE, pool_size=pool_size)


@dataclass(frozen=True)
class RequestContext:
    """Who is acting: set per transaction so Row-Level Security can decide what they see.

    ``role`` is ``admin``, ``manager``, ``user``, or ``system`` (the reconciler acting for every tenant).
    """

    role: str
    tenant_id: UUID | None = None
    user_id: UUID | None = None


SYSTEM = RequestContext(role="system")


def apply_context(connection: sa.Connection | Session, ctx: RequestContext) -> None:
    """Set the caller's role, tenant and user for the current transaction only (``SET LOCAL``)."""
    connection.execute(
        sa.text(
            "SELECT set_config('app.role', :role, true), set_config('app.tenant_id', :tenant, true), "
            "set_config('app.user_id', :user, true)"
        ),
        {"role": ctx.role, "tenant": str(ctx.tenant_id or ""), "user": str(ctx.user_id or "")},
    )


@contextmanager
def session_scope(engine: Engine, ctx: RequestContext) -> Iterator[Session]:
    """One transaction as ``ctx``: committed on success, rolled back on any error."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        apply_context(session, ctx)
        yield session
