"""Row-Level Security, proven in the database: as the application role with tenant A's context, raw SQL
sees no row of tenant B in any tenant-owned table, and cannot insert, update or delete one; and no setting
or role switch that SQL as the application role can make widens what it sees (the scope is a signed claim).

The tables come from the catalog (every table with a ``tenant_id`` column), so a new table is covered
(and must have rows seeded here) without anyone remembering to add it.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from psycopg.types.json import Jsonb

from controlplane.db.claims import ClaimKey, sign_claim
from controlplane.db.embedded import DatabaseUrls
from controlplane.db.engine import RequestContext, apply_context, create_app_engine, session_scope
from controlplane.models.tables import TENANT_OWNED
from tests.fixtures.api import World


def _tenant_tables(owner_url: str) -> list[str]:
    with psycopg.connect(owner_url) as conn:
        rows = conn.execute(
            "SELECT c.relname, c.relrowsecurity FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid "
            "WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace AND a.attname = 'tenant_id' "
            "ORDER BY 1"
        ).fetchall()
    assert all(rls for _, rls in rows), [name for name, rls in rows if not rls]
    return [name for name, _ in rows]


def _seed_rest(owner_url: str, world: World) -> None:
    """Rows the API does not create itself: runs, run log, leases, password resets (for both tenants)."""
    with psycopg.connect(owner_url) as conn:
        for tenant in (world.acme, world.globex):
            run_id = uuid.uuid4()
            conn.execute("INSERT INTO runs (id, tenant_id, target_kind, target_id, action) VALUES (%s,%s,'VM',%s,'x')",
                         (run_id, tenant.id, uuid.uuid4()))
            conn.execute("INSERT INTO run_log_entries (run_id, seq, tenant_id, line) VALUES (%s, 1, %s, 'hi')",
                         (run_id, tenant.id))
            conn.execute("INSERT INTO work_leases (object_kind, object_id, tenant_id) VALUES ('VM', %s, %s)",
                         (uuid.uuid4(), tenant.id))
            conn.execute("INSERT INTO password_resets (tenant_id, user_id, token_hash, expires_at) "
                         "VALUES (%s, %s, 'h', now())", (tenant.id, tenant.member_id))


def _seed_via_api(world: World) -> None:
    for tenant in (world.acme, world.globex):
        vm = tenant.member.post("/api/v1/vms", json=world.vm_doc("web-1"))
        assert vm.status_code == 201, vm.text
        doc = world.vm_doc("ct-1") | {"kind": "Container"}
        assert tenant.member.post("/api/v1/containers", json=doc).status_code == 201
        assert tenant.member.post(f"/api/v1/vms/{vm.json()['id']}/actions/stop").status_code == 202
        assert tenant.member.post("/api/v1/api-keys", json={"name": "k"}).status_code == 201
        assert tenant.manager.post("/api/v1/git-sources", json={
            "name": f"infra-{tenant.name}", "url": "https://git.example.test/infra.git"}).status_code == 201


@pytest.fixture
def seeded(world: World, database: DatabaseUrls) -> World:
    _seed_via_api(world)
    _seed_rest(database.owner, world)
    return world


def _row_of(owner_url: str, table: str, tenant_id: uuid.UUID) -> dict[str, Any]:
    with psycopg.connect(owner_url) as conn:
        row = conn.execute(f"SELECT to_jsonb(t) FROM {table} t WHERE tenant_id = %s LIMIT 1", (tenant_id,)).fetchone()
    assert row is not None, f"seed a row of {table} for this test"
    return dict(row[0])


def test_every_tenant_table_has_rls_and_is_covered(database: DatabaseUrls) -> None:
    assert sorted(_tenant_tables(database.owner)) == sorted(TENANT_OWNED)


def test_tenant_a_sees_no_row_of_tenant_b(seeded: World, database: DatabaseUrls) -> None:
    a, b = seeded.acme, seeded.globex
    engine = create_app_engine(database.app, database.owner)
    ctx = RequestContext(role="manager", tenant_id=a.id, user_id=None)
    with session_scope(engine, ctx) as session:
        for table in _tenant_tables(database.owner):
            assert _row_of(database.owner, table, b.id)  # the row exists ...
            total = session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            foreign = session.execute(
                sa.text(f"SELECT count(*) FROM {table} WHERE tenant_id IS DISTINCT FROM :a"), {"a": a.id}
            ).scalar_one()
            assert foreign == 0, table  # ... but A cannot see it, even without a WHERE
            assert total > 0 or table in ("audit_events",), table
        tenants = session.execute(sa.text("SELECT id FROM tenants")).scalars().all()
        assert tenants == [a.id]
    engine.dispose()


def test_tenant_a_cannot_insert_update_or_delete_rows_of_tenant_b(seeded: World, database: DatabaseUrls) -> None:
    a, b = seeded.acme, seeded.globex
    engine = create_app_engine(database.app, database.owner)
    ctx = RequestContext(role="manager", tenant_id=a.id, user_id=None)
    for table in _tenant_tables(database.owner):
        template = _row_of(database.owner, table, b.id)
        for key in ("id", "object_id"):
            if key in template:
                template[key] = 10**12 + uuid.uuid4().int % 10**9 if table == "audit_events" else str(uuid.uuid4())
        if "seq" in template:
            template["seq"] = 99
        for key in ("email", "prefix", "name"):
            if key in template:
                template[key] = f"x{uuid.uuid4().hex[:8]}" + ("@x.test" if key == "email" else "")
        overriding = " OVERRIDING SYSTEM VALUE" if table == "audit_events" else ""
        with pytest.raises(sa.exc.DBAPIError) as refused, session_scope(engine, ctx) as session:
            session.execute(
                sa.text(f"INSERT INTO {table}{overriding} SELECT * FROM jsonb_populate_record(NULL::{table}, :row)"),
                {"row": Jsonb(template)},
            )
        assert refused.value.orig.sqlstate == "42501", (table, refused.value)  # row-level security / no privilege
        with session_scope(engine, ctx) as session:
            if table == "audit_events":
                for statement in (f"UPDATE {table} SET actor = 'x'", f"DELETE FROM {table}"):
                    with pytest.raises(sa.exc.DBAPIError) as denied, session.begin_nested():
                        session.execute(sa.text(statement))
                    assert denied.value.orig.sqlstate == "42501"
                continue
            updated = session.execute(sa.text(f"UPDATE {table} SET tenant_id = tenant_id WHERE tenant_id = :b"),
                                      {"b": b.id}).rowcount
            deleted = session.execute(sa.text(f"DELETE FROM {table} WHERE tenant_id = :b"), {"b": b.id}).rowcount
            assert (updated, deleted) == (0, 0), table
        # moving one of A's own rows into B is refused too
        if table not in ("audit_events", "run_log_entries"):
            with pytest.raises(sa.exc.DBAPIError) as moved, session_scope(engine, ctx) as session:
                session.execute(sa.text(f"UPDATE {table} SET tenant_id = :b WHERE tenant_id = :a"),
                                {"a": a.id, "b": b.id})
            assert moved.value.orig.sqlstate in ("42501", "23503"), table
    with psycopg.connect(database.owner) as conn:  # and every row of B is still there
        for table in _tenant_tables(database.owner):
            assert conn.execute(f"SELECT count(*) FROM {table} WHERE tenant_id = %s", (b.id,)).fetchone()[0] > 0
    engine.dispose()


def test_a_user_sees_only_member_projects_guests_at_the_database_level(seeded: World, database: DatabaseUrls) -> None:
    engine = create_app_engine(database.app, database.owner)
    outsider = RequestContext(role="user", tenant_id=seeded.acme.id, user_id=seeded.acme.outsider_id)
    member = RequestContext(role="user", tenant_id=seeded.acme.id, user_id=seeded.acme.member_id)
    with session_scope(engine, outsider) as session:
        assert session.execute(sa.text("SELECT count(*) FROM virtual_machines")).scalar_one() == 0
    with session_scope(engine, member) as session:
        assert session.execute(sa.text("SELECT count(*) FROM virtual_machines")).scalar_one() == 1
    engine.dispose()


def _visible_tenants(conn: psycopg.Connection) -> set[uuid.UUID]:
    seen = {r[0] for r in conn.execute("SELECT id FROM tenants")}
    for table in TENANT_OWNED:
        seen |= {r[0] for r in conn.execute(f"SELECT DISTINCT tenant_id FROM {table}") if r[0] is not None}
    return seen


def test_sql_as_the_app_role_cannot_widen_its_scope(seeded: World, database: DatabaseUrls) -> None:
    """Inside a transaction scoped to tenant A, SQL run as the application role sets every setting it can
    and switches roles where it can; it still sees A's rows at most, and never B's."""
    a, b = seeded.acme, seeded.globex
    engine = create_app_engine(database.app, database.owner)
    forged_key = ClaimKey.generate()
    with engine.connect() as other, engine.connect() as sa_conn, sa_conn.begin():
        admin_elsewhere = _claim_for(other, "admin")  # a valid admin claim, made for another server process
        apply_context(sa_conn, RequestContext(role="manager", tenant_id=a.id))
        conn = sa_conn.connection.dbapi_connection
        assert _visible_tenants(conn) == {a.id}
        valid = conn.execute("SELECT current_setting('app.claim')").fetchone()[0]
        pid = conn.info.backend_pid
        body, _ = valid.split(".")
        attempts = [
            "SELECT set_config('app.role', 'admin', true)",
            "SELECT set_config('app.role', 'system', false)",
            f"SELECT set_config('app.tenant_id', '{b.id}', true)",
            f"SELECT set_config('app.user_id', '{b.member_id}', true)",
            "SET app.role = 'admin'",
            "RESET ROLE",
        ]
        for statement in attempts:
            conn.execute(statement)
            assert _visible_tenants(conn) <= {a.id}, statement
        for role in ("controlplane_owner", "postgres"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SAVEPOINT s")
                conn.execute(f'SET ROLE "{role}"')
            conn.execute("ROLLBACK TO SAVEPOINT s")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SAVEPOINT s")
            conn.execute("SELECT key FROM cp_claim_key")
        conn.execute("ROLLBACK TO SAVEPOINT s")
        forgeries = {
            "another tenant, same signature": body.replace(str(a.id), str(b.id)) + "." + valid.split(".")[1],
            "admin, same signature": body.replace("manager|", "admin|", 1) + "." + valid.split(".")[1],
            "signed with another key": sign_claim(forged_key, "admin", None, None, pid),
            "made for another connection": admin_elsewhere,
            "expired": sign_claim(_key(database), "admin", None, None, pid, now=time.time() - 3600),
            "not a claim": "admin",
        }
        for what, claim in forgeries.items():
            conn.execute("SELECT set_config('app.claim', %s, true)", (claim,))
            assert _visible_tenants(conn) == set(), what
            assert conn.execute("SELECT cp_role()").fetchone() == ("anonymous",), what
    engine.dispose()


def _key(database: DatabaseUrls) -> ClaimKey:
    from controlplane.db.claims import read_claim_key

    return read_claim_key(database.owner)


def _claim_for(conn: sa.Connection, role: str) -> str:
    pid = conn.connection.dbapi_connection.info.backend_pid
    return sign_claim(conn.connection.info["controlplane_claim_key"], role, None, None, pid)


def test_a_valid_signed_admin_claim_sees_every_tenant(seeded: World, database: DatabaseUrls) -> None:
    """The control of the test above: the same reads under a genuine admin claim do see both tenants."""
    engine = create_app_engine(database.app, database.owner)
    with engine.connect() as sa_conn, sa_conn.begin():
        apply_context(sa_conn, RequestContext(role="admin"))
        assert _visible_tenants(sa_conn.connection.dbapi_connection) >= {seeded.acme.id, seeded.globex.id}
    engine.dispose()
