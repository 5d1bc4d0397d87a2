"""What a database holds, as the owner role sees it: its tables and their rows, its server's version, and
who else is connected. Backups describe themselves with it and restores check their target with it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql

from controlplane.errors import ComponentError

SCHEMAS = ("public", "terraform_remote_state")
"""The schemas the control plane's migrations create objects in."""

BOOTSTRAP_TABLES = frozenset({"public.alembic_version", "public.cp_claim_key"})
"""Tables whose rows a bare ``controlplane db upgrade`` writes: rows there alone are no data."""


@dataclass(frozen=True)
class DatabaseFacts:
    """The server's version and the row count of every table of ours (``schema.table``)."""

    server_version: str
    server_major: int
    tables: dict[str, int]

    def data_tables(self) -> dict[str, int]:
        """The tables holding rows besides what a bare migration writes."""
        return {name: rows for name, rows in self.tables.items() if rows and name not in BOOTSTRAP_TABLES}


def _connect(url: str) -> psycopg.Connection:
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise ComponentError(f"cannot connect to PostgreSQL: {exc}", component="postgresql") from exc


def _facts(conn: psycopg.Connection) -> DatabaseFacts:
    version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
    number = int(conn.execute("SHOW server_version_num").fetchone()[0])  # type: ignore[index]
    names = conn.execute(
        "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY(%s) ORDER BY 1, 2",
        (list(SCHEMAS),)).fetchall()
    tables = {}
    for schema, table in names:
        query = sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        tables[f"{schema}.{table}"] = int(conn.execute(query).fetchone()[0])  # type: ignore[index]
    return DatabaseFacts(version.split()[0], number // 10000, tables)


def facts(url: str) -> DatabaseFacts:
    """The version of the server at ``url`` and the exact row count of each table in our schemas."""
    with _connect(url) as conn:
        return _facts(conn)


@contextmanager
def snapshot(url: str) -> Iterator[tuple[str, DatabaseFacts]]:
    """Hold one read-only snapshot of the database open: yields its id (for ``pg_dump --snapshot``, which
    then dumps exactly what the snapshot sees) and the facts counted in it."""
    with _connect(url) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            snapshot_id = str(conn.execute("SELECT pg_export_snapshot()").fetchone()[0])  # type: ignore[index]
            yield snapshot_id, _facts(conn)
        finally:
            conn.execute("ROLLBACK")


def other_sessions(url: str) -> list[str]:
    """Who else is connected to this database (``user@application``, one per session)."""
    with _connect(url) as conn:
        rows = conn.execute(
            "SELECT usename, application_name FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend' "
            "ORDER BY 1, 2").fetchall()
    return [f"{user}@{app}" if app else str(user) for user, app in rows]
