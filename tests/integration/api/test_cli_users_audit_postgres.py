"""``controlplane user create`` and ``controlplane audit verify`` against a real PostgreSQL, and the same
verification for admins through the application role (the portal's audit page)."""

from __future__ import annotations

import uuid

import psycopg
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from controlplane.cli import app
from controlplane.db.embedded import DatabaseUrls
from controlplane.errors import PermissionDenied
from controlplane.services import audit
from controlplane.services.caller import Caller
from controlplane.services.transactions import Db
from tests.fixtures.api import PASSWORD, Api, World

runner = CliRunner()


def _env(database: DatabaseUrls) -> dict[str, str]:
    return {"CONTROLPLANE_DATABASE_URL": database.owner}


def test_user_create_reads_the_password_from_stdin_and_the_user_can_log_in(api: Api, database: DatabaseUrls) -> None:
    result = runner.invoke(app, ["user", "create", "root@example.test", "--role", "admin"], input=PASSWORD + "\n",
                           env=_env(database))
    assert result.exit_code == 0, result.output
    assert "created admin root@example.test" in result.output
    assert PASSWORD not in result.output
    resp = api.client().post("/api/v1/auth/login", json={"email": "root@example.test", "password": PASSWORD})
    assert resp.status_code == 200


def test_user_create_refuses_bad_input_naming_it(database: DatabaseUrls) -> None:
    short = runner.invoke(app, ["user", "create", "a@example.test", "--role", "admin"], input="short\n",
                          env=_env(database))
    assert short.exit_code == 2 and "password" in short.output
    no_tenant = runner.invoke(app, ["user", "create", "m@example.test", "--role", "manager", "--tenant", "nope"],
                              input=PASSWORD + "\n", env=_env(database))
    assert no_tenant.exit_code == 1 and "tenant" in no_tenant.output


def test_audit_verify_passes_then_detects_modification_and_removal(world: World, database: DatabaseUrls) -> None:
    for i in range(3):
        assert world.acme.member.post("/api/v1/vms", json=world.vm_doc(f"web-{i}")).status_code == 201
    ok = runner.invoke(app, ["audit", "verify"], env=_env(database))
    assert ok.exit_code == 0, ok.output
    assert "audit chain intact" in ok.output
    with psycopg.connect(database.superuser, autocommit=True) as conn:
        victim = conn.execute("SELECT id FROM audit_events WHERE action = 'vm.create' ORDER BY chain_seq LIMIT 1"
                              ).fetchone()[0]
        conn.execute("UPDATE audit_events SET actor = 'someone-else' WHERE id = %s", (victim,))
    modified = runner.invoke(app, ["audit", "verify"], env=_env(database))
    assert modified.exit_code == 1 and f"event {victim}" in modified.output and "modified" in modified.output
    with psycopg.connect(database.superuser, autocommit=True) as conn:
        conn.execute("DELETE FROM audit_events WHERE id = %s", (victim,))
    removed = runner.invoke(app, ["audit", "verify"], env=_env(database))
    assert removed.exit_code == 1 and "missing" in removed.output


def test_an_admin_verifies_the_chain_through_the_app_role_and_nobody_else_can(world: World,
                                                                              database: DatabaseUrls) -> None:
    assert world.acme.member.post("/api/v1/vms", json=world.vm_doc("chain-1")).status_code == 201
    admin = Caller(user_id=uuid.uuid4(), tenant_id=None, role="admin")
    manager = Caller(user_id=uuid.uuid4(), tenant_id=world.acme.id, role="manager")
    intact = Db(world.api.engine, admin).read(lambda s: audit.verify_chain_as(s, admin))
    assert intact.ok and intact.checked >= 1, intact
    with pytest.raises(PermissionDenied):
        Db(world.api.engine, manager).read(lambda s: audit.verify_chain_as(s, manager))
    # the database refuses too, whatever the application role's SQL claims for itself
    with world.api.engine.connect() as conn, pytest.raises(sa.exc.DBAPIError, match="only admins"):
        conn.execute(sa.text("SELECT set_config('app.role', 'admin', false)"))
        conn.execute(audit.ADMIN_CHAIN_SQL).all()
    with psycopg.connect(database.superuser, autocommit=True) as conn:
        victim = conn.execute("SELECT id FROM audit_events WHERE target_name = 'chain-1' ORDER BY chain_seq LIMIT 1"
                              ).fetchone()[0]
        conn.execute("UPDATE audit_events SET actor = 'someone-else' WHERE id = %s", (victim,))
    broken = Db(world.api.engine, admin).read(lambda s: audit.verify_chain_as(s, admin))
    assert not broken.ok and f"event {victim}" in broken.problem and "modified" in broken.problem


def test_user_create_logs_in_with_the_configured_app_role_url(api: Api, database: DatabaseUrls) -> None:
    from controlplane.util.net import refused_port

    with refused_port() as port:
        env = _env(database) | {"CONTROLPLANE_APP_DATABASE_URL": f"postgresql://controlplane_app@127.0.0.1:{port}/x"}
        result = runner.invoke(app, ["user", "create", "app-url@example.test", "--role", "admin"],
                               input=PASSWORD + "\n", env=env)
    assert result.exit_code != 0  # it connected where the setting says, not to the owner URL's server
    resp = api.client().post("/api/v1/auth/login", json={"email": "app-url@example.test", "password": PASSWORD})
    assert resp.status_code == 401
