"""Engines and sessions: one factory per role, and transactions that carry the caller's signed context."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from controlplane.db.claims import CLAIM_SETTING, ClaimKey, read_claim_key, sign_claim
from controlplane.db.roles import APP_ROLE
from controlplane.errors import ComponentError

_KEY = "controlplane_claim_key"


def sqlalchemy_url(url: str) -> str:
    """Turn a ``postgresql://`` URL into the SQLAlchemy form that uses psycopg 3."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {url.split('@')[-1]}")


def create_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An engine for ``url`` (no claims: for the owner role's own work, such as migrations)."""
    return sa.create_engine(sqlalchemy_url(url), pool_size=pool_size, pool_pre_ping=True, future=True)


def app_role_url(owner_url: str) -> str:
    """The owner's URL with the application role as user and no password (socket, trust, peer, .pgpass)."""
    url = make_url(sqlalchemy_url(owner_url))._replace(username=APP_ROLE, password=None)
    return url.render_as_string(hide_password=False).replace("postgresql+psycopg://", "postgresql://", 1)


def create_app_engine(app_url: str | None, owner_url: str, *, pool_size: int = 5) -> Engine:
    """The engine of the application role, able to sign the claims its transactions act under.

    It logs in as the application role itself (``app_url``, or the owner's URL with the role's name): a
    connection that switched roles with ``SET ROLE`` could switch back with ``RESET ROLE``. The claim
    key is read once, with ``owner_url``, when the first connection opens.
    """
    engine = create_engine(app_url or app_role_url(owner_url), pool_size=pool_size)
    lock = threading.Lock()
    loaded: list[ClaimKey] = []

    @event.listens_for(engine, "connect")
    def _keep_key(_dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
        with lock:
            if not loaded:
                loaded.append(read_claim_key(owner_url))
        record.info[_KEY] = loaded[0]

    return engine


@dataclass(frozen=True)
class RequestContext:
    """Who is acting: set per transaction so Row-Level Security can decide what they see.

    ``role`` is ``admin``, ``manager``, ``user``, ``anonymous``, or ``system`` (the control plane itself,
    acting for every tenant).
    """

    role: str
    tenant_id: UUID | None = None
    user_id: UUID | None = None


SYSTEM = RequestContext(role="system")


#: SQL that makes the current transaction act as a context, with the parameters of :func:`claim_params`.
SET_CLAIM = "set_config(:claim_name, :claim, true)"


def claim_params(connection: sa.Connection | Session, ctx: RequestContext) -> dict[str, str]:
    """The parameters of :data:`SET_CLAIM` that make the current transaction act as ``ctx``: a claim signed
    for this connection's server process, so that it is worth nothing in another."""
    conn = connection.connection() if isinstance(connection, Session) else connection
    fairy = conn.connection
    key = fairy.info.get(_KEY)
    if key is None:
        raise RuntimeError("this engine cannot sign claims: build it with create_app_engine()")
    pid = fairy.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
    return {"claim_name": CLAIM_SETTING, "claim": sign_claim(key, ctx.role, ctx.tenant_id, ctx.user_id, pid)}


def apply_context(connection: sa.Connection | Session, ctx: RequestContext) -> None:
    """Act as ``ctx`` for the current transaction only: a claim signed for this server process."""
    conn = connection.connection() if isinstance(connection, Session) else connection
    conn.execute(sa.text(f"SELECT {SET_CLAIM}"), claim_params(conn, ctx))


@contextmanager
def session_scope(engine: Engine, ctx: RequestContext) -> Iterator[Session]:
    """One transaction as ``ctx``: committed on success, rolled back on any error."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        apply_context(session, ctx)
        yield session


def check_app_role(engine: Engine) -> None:
    """Refuse an application role that could step outside Row-Level Security (ComponentError says why).

    It must log in as itself, not be a superuser, not bypass RLS, and be a member of no other role (a
    member could ``SET ROLE`` to it).
    """
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.text(
                "SELECT current_user, session_user, r.rolsuper, r.rolbypassrls, "
                "  (SELECT count(*) FROM pg_auth_members m WHERE m.member = r.oid) "
                "FROM pg_roles r WHERE r.rolname = current_user")).one()
    except sa.exc.OperationalError as exc:
        raise ComponentError(f"cannot log in as {APP_ROLE} ({exc.orig}); set CONTROLPLANE_APP_DATABASE_URL to a "
                             f"login of {APP_ROLE} (with its password)", component="postgresql") from exc
    user, session_user, superuser, bypass, memberships = row
    problems = [text for bad, text in [
        (user != APP_ROLE or session_user != APP_ROLE, f"logs in as {session_user}, not {APP_ROLE}"),
        (superuser, "is a superuser"), (bypass, "has BYPASSRLS"),
        (memberships, "is a member of another role (it could SET ROLE to it)"),
    ] if bad]
    if problems:
        raise ComponentError(f"the application role's connection {', '.join(problems)}: set "
                             "CONTROLPLANE_APP_DATABASE_URL to a login of the role controlplane_app",
                             component="postgresql")
