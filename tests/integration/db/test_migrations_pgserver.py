"""Migrations on a real PostgreSQL (pgserver): up, down, up again; the application role's limits."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.types.json import Jsonb

from controlplane.db import migrate
from controlplane.db.claims import read_claim_key, sign_claim
from controlplane.db.embedded import DatabaseUrls

TENANT_OWNED = [
    "tenants", "projects", "users", "memberships", "api_keys", "virtual_machines", "containers",
    "runs", "run_log_entries", "audit_events", "work_leases",
]


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {row[0] for row in rows}


def test_upgrade_downgrade_upgrade_on_an_empty_database(empty_database: DatabaseUrls) -> None:
    url = empty_database.owner
    assert migrate.current_revision(url) is None
    migrate.upgrade(url)
    assert migrate.current_revision(url) == migrate.head_revision()
    assert set(TENANT_OWNED) | {"clusters", "nodes"} <= tables(url)

    migrate.downgrade(url, "base")
    assert migrate.current_revision(url) is None
    assert tables(url) <= {"alembic_version"}

    migrate.upgrade(url)
    assert migrate.current_revision(url) == migrate.head_revision()


def test_owner_role_owns_every_table_and_app_role_owns_none(database: DatabaseUrls) -> None:
    with psycopg.connect(database.owner) as conn:
        owners = dict(conn.execute("SELECT tablename, tableowner FROM pg_tables WHERE schemaname='public'"))
    assert set(owners.values()) == {"controlplane_owner"}


@pytest.mark.parametrize("statement", [
    "CREATE TABLE intruder (id int)",
    "DROP TABLE tenants",
    "ALTER TABLE tenants DISABLE ROW LEVEL SECURITY",
    "TRUNCATE audit_events",
])
def test_application_role_cannot_change_the_schema(database: DatabaseUrls, statement: str) -> None:
    with psycopg.connect(database.app) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("controlplane_app",)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)


def test_row_level_security_is_enabled_on_every_tenant_owned_table(database: DatabaseUrls) -> None:
    with psycopg.connect(database.owner) as conn:
        rows = conn.execute(
            "SELECT relname, relrowsecurity FROM pg_class WHERE relname = ANY(%s) AND relkind = 'r'",
            (TENANT_OWNED,),
        ).fetchall()
    assert dict(rows) == dict.fromkeys(TENANT_OWNED, True)


def test_without_a_signed_claim_the_application_role_sees_nothing(database: DatabaseUrls) -> None:
    with psycopg.connect(database.owner) as conn:
        conn.execute("INSERT INTO tenants (name) VALUES ('acme'), ('globex')")
    with psycopg.connect(database.app) as conn:
        assert conn.execute("SELECT count(*) FROM tenants").fetchone() == (0,)
        conn.execute("SELECT set_config('app.role', 'admin', false)")  # a setting is no longer a claim
        assert conn.execute("SELECT count(*) FROM tenants").fetchone() == (0,)
        _claim(conn, database, "admin")
        assert conn.execute("SELECT count(*) FROM tenants").fetchone() == (2,)


def _claim(conn: psycopg.Connection, database: DatabaseUrls, role: str) -> None:
    claim = sign_claim(read_claim_key(database.owner), role, None, None, conn.info.backend_pid)
    conn.execute("SELECT set_config('app.claim', %s, false)", (claim,))


def test_the_claim_key_is_readable_by_the_owner_alone(database: DatabaseUrls) -> None:
    assert len(read_claim_key(database.owner).key) == 32
    with psycopg.connect(database.app) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT key FROM cp_claim_key")


def test_audit_events_are_append_only_and_hash_chained(database: DatabaseUrls) -> None:
    with psycopg.connect(database.app) as conn:
        _claim(conn, database, "system")
        for action in ("login", "create"):
            conn.execute("INSERT INTO audit_events (actor, action, result) VALUES ('alice', %s, 'ok')", (action,))
        conn.commit()
        first, second = conn.execute("SELECT hash, prev_hash FROM audit_events ORDER BY id").fetchall()
        assert first[1] == "" and second[1] == first[0] and len(second[0]) == 64
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE audit_events SET result = 'forged'")
        conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM audit_events")


def test_conditions_move_out_of_status_and_back(empty_database: DatabaseUrls) -> None:
    url = empty_database.owner
    migrate.upgrade(url, "0011_tenant_quotas")
    ready = [{"type": "Ready", "status": "True", "reason": "Reconciled"}]
    with psycopg.connect(url) as conn:
        tenant = conn.execute("INSERT INTO tenants (name) VALUES ('acme') RETURNING id").fetchone()[0]
        project = conn.execute("INSERT INTO projects (tenant_id, name) VALUES (%s, 'shop') RETURNING id",
                               (tenant,)).fetchone()[0]
        conn.execute("INSERT INTO virtual_machines (tenant_id, project_id, name, spec, status, conditions) "
                     "VALUES (%s, %s, 'web-1', '{}', %s, %s)",
                     (tenant, project, Jsonb({"vmid": 100, "conditions": ready}), Jsonb(ready)))
    migrate.upgrade(url)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT status, conditions FROM virtual_machines").fetchone() == ({"vmid": 100}, ready)
    migrate.downgrade(url, "0011_tenant_quotas")
    with psycopg.connect(url) as conn:
        status = conn.execute("SELECT status FROM virtual_machines").fetchone()[0]
    assert status == {"vmid": 100, "conditions": ready}
