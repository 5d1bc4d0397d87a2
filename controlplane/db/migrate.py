"""Run the Alembic migrations that ship inside the package, as the owner role.

Every upgrade and downgrade holds a PostgreSQL advisory lock (:data:`MIGRATION_LOCK`) for its whole run, so a
one-shot job, an init container and replicas that start at once migrate one after the other: the first
migrates, the others wait and then find the database at head.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from controlplane.db.engine import create_engine
from controlplane.db.roles import APP_ROLE, ENSURE_APP_ROLE_SQL, ENSURE_STATE_ROLE_SQL, GRANT_STATE_ROLE_SQL, STATE_ROLE
from controlplane.errors import ComponentError

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x636F6E74726F6C  # "control": the advisory lock key every migration run holds


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def set_role_privilege(conn: psycopg.Connection) -> str:
    """The ``pg_has_role`` privilege that means "may SET ROLE to it": ``SET`` from PostgreSQL 16 on;
    before 16 (Debian 12 ships 15) there is no such privilege and membership alone allows it."""
    return "SET" if conn.info.server_version >= 160000 else "MEMBER"


def ensure_app_role(owner_url: str) -> None:
    """Make sure the application role exists and the owner may ``SET ROLE`` to it.

    Needs CREATEROLE when the role is missing; embedded setups create it earlier as the superuser.
    """
    with psycopg.connect(owner_url, autocommit=True) as conn:
        try:
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone():
                conn.execute(ENSURE_APP_ROLE_SQL)
            member = conn.execute(f"SELECT pg_has_role(current_user, %s, '{set_role_privilege(conn)}')",
                                  (APP_ROLE,)).fetchone()
            if not (member and member[0]):
                conn.execute(f"GRANT {APP_ROLE} TO current_user")
        except psycopg.Error as exc:
            raise ComponentError(
                f"the database user cannot create or use the role {APP_ROLE}; as a superuser run: "
                f"CREATE ROLE {APP_ROLE} LOGIN; GRANT {APP_ROLE} TO <owner user>",
                component="postgresql",
            ) from exc


def ensure_state_role(owner_url: str) -> None:
    """Create the Terraform state role when it is missing and the owner may (CREATEROLE); otherwise say
    how (the migration grants it the state table once it exists)."""
    with psycopg.connect(owner_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (STATE_ROLE,)).fetchone():
            return
        try:
            conn.execute(ENSURE_STATE_ROLE_SQL)
        except psycopg.Error:
            log.warning("the database role %s is missing and the owner cannot create it; as a superuser run: "
                        "CREATE ROLE %s LOGIN PASSWORD '...'; then `controlplane db upgrade` again",
                        STATE_ROLE, STATE_ROLE)


@contextmanager
def migration_lock(owner_url: str) -> Iterator[None]:
    """Hold the database's migration advisory lock (waiting for another migration run to finish first)."""
    with psycopg.connect(owner_url, autocommit=True) as conn:
        got = conn.execute("SELECT pg_try_advisory_lock(%s)", (MIGRATION_LOCK,)).fetchone()
        if not (got and got[0]):
            log.info("another migration is running; waiting for it to finish")
            conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))


def upgrade(owner_url: str, revision: str = "head") -> None:
    """Migrate the database at ``owner_url`` up to ``revision`` (serialised with other migration runs)."""
    with migration_lock(owner_url):
        ensure_app_role(owner_url)
        ensure_state_role(owner_url)
        _run(owner_url, lambda config: command.upgrade(config, revision))
        if revision == "head":  # a state role created after the migration that grants it gets its grants now
            with psycopg.connect(owner_url, autocommit=True) as conn:
                conn.execute(GRANT_STATE_ROLE_SQL)


def downgrade(owner_url: str, revision: str = "base") -> None:
    """Migrate the database at ``owner_url`` down to ``revision`` (serialised with other migration runs)."""
    with migration_lock(owner_url):
        _run(owner_url, lambda config: command.downgrade(config, revision))


def current_revision(owner_url: str) -> str | None:
    """The revision the database is at, or None when it has never been migrated."""
    engine = create_engine(owner_url, pool_size=1)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def _reason(exc: sa.exc.SQLAlchemyError) -> str:
    """The first line of the driver's message (the server's or libpq's words, without a URL)."""
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


def wait_for_head(owner_url: str, timeout: float, interval: float = 2.0) -> str | None:
    """Wait up to ``timeout`` seconds for the database to be at :func:`head_revision` (an init container
    waiting for the migration job), retrying while it is unreachable; returns the revision it is at then.
    Raises ComponentError when it was still unreachable at the end."""
    head = head_revision()
    deadline = time.monotonic() + timeout
    while True:
        try:
            current = current_revision(owner_url)
            error = None
        except sa.exc.SQLAlchemyError as exc:
            current, error = None, exc
        if current == head or time.monotonic() >= deadline:
            break
        log.info("database at revision %s, waiting for %s", "unreachable" if error else current, head)
        time.sleep(interval)
    if error is not None:
        reason = _reason(error)
        raise ComponentError(f"database unreachable after {timeout:g}s: {reason}", component="postgresql") from error
    return current


REFUSED = ("password authentication failed", "no pg_hba.conf entry", "does not exist", "permission denied",
           "authentication", "certificate", "ssl")
"""Connection failures not worth waiting out: the server answered and said no (libpq reports them without
an SQLSTATE, like a refused connection, so they are told apart by their message)."""


def current_revision_when_reachable(owner_url: str, timeout: float, *, interval: float = 1.0,
                                    on_wait: Callable[[str], None] | None = None) -> str | None:
    """:func:`current_revision`, waiting up to ``timeout`` seconds while PostgreSQL does not accept
    connections yet (a service starting beside it, or restarting); ``on_wait`` hears once why it waits. A
    refused login or any other error is not waited for. Raises ComponentError naming the reason."""
    deadline = time.monotonic() + timeout
    told = False
    while True:
        try:
            return current_revision(owner_url)
        except sa.exc.SQLAlchemyError as exc:
            reason = _reason(exc)
            waitable = isinstance(exc, sa.exc.OperationalError) and not any(r in reason.lower() for r in REFUSED)
            if not waitable or time.monotonic() >= deadline:
                after = f" after {timeout:g}s" if waitable else ""
                raise ComponentError(f"cannot use the database{after}: {reason}", component="postgresql") from exc
            if not told and on_wait is not None:
                on_wait(f"PostgreSQL does not answer yet ({reason}); waiting up to {timeout:g}s")
                told = True
        time.sleep(interval)


def head_revision() -> str:
    """The newest revision shipped with this version of controlplane."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def is_known(revision: str) -> bool:
    """Whether ``revision`` is one of the revisions shipped with this version (the head or an older one)."""
    try:
        script = ScriptDirectory.from_config(_config()).get_revision(revision)
    except Exception:  # alembic raises several kinds for an unknown or malformed id
        return False
    return script is not None and script.revision == revision  # not a prefix of one


def _run(owner_url: str, action) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(owner_url, pool_size=1)
    try:
        with engine.begin() as conn:
            config = _config()
            config.attributes["connection"] = conn
            action(config)
    finally:
        engine.dispose()
