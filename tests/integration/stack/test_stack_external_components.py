"""The stack with external PostgreSQL and Vault: nothing embedded is started; readiness tells the truth."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from controlplane.api.app import create_app
from controlplane.api.deps import AppDeps
from controlplane.config import get_settings
from controlplane.db import migrate
from controlplane.db.embedded import DatabaseUrls
from controlplane.stack import Stack
from tests.fixtures.vault import VaultServer, dev_vault


def test_external_database_and_vault_start_nothing_embedded(
    tmp_path: Path, empty_database: DatabaseUrls, vault_server: VaultServer
) -> None:
    settings = get_settings(
        data_dir=tmp_path / "data", database_url=empty_database.owner, vault_addr=vault_server.addr,
        vault_token=vault_server.token,
    )
    messages: list[str] = []
    with Stack(settings, report=messages.append) as stack:
        assert stack.postgres is None and stack.vault_server is None
        assert stack.app_engine is not None and stack.vault is not None
        client = TestClient(create_app(AppDeps(settings=settings, app_engine=stack.app_engine, vault=stack.vault)))
        body = client.get("/readyz").json()
        assert body["status"] == "ready"
        with stack.app_engine.connect() as conn:
            # the application role logs in itself (the owner URL with its name), so its limits apply
            assert conn.exec_driver_sql("SELECT current_user").scalar_one() == "controlplane_app"
    assert not (tmp_path / "data" / "postgres").exists() and not (tmp_path / "data" / "openbao").exists()
    assert f"PostgreSQL: schema at revision {migrate.head_revision()} (was None)" in messages


def test_readyz_is_503_naming_the_component_that_is_down(tmp_path: Path, database: DatabaseUrls) -> None:
    with dev_vault() as (server, bao):
        settings = get_settings(data_dir=tmp_path, database_url=database.owner, vault_addr=server.addr,
                                vault_token=server.token, readyz_details=True)
        with Stack(settings, report=lambda _m: None) as stack:
            assert stack.app_engine is not None and stack.vault is not None
            client = TestClient(create_app(AppDeps(settings=settings, app_engine=stack.app_engine, vault=stack.vault)))
            assert client.get("/readyz").status_code == 200
            bao.terminate()
            bao.wait(timeout=15)
            response = client.get("/readyz")
    assert response.status_code == 503
    components = response.json()["components"]
    assert components["postgresql"]["status"] == "ok"
    assert components["vault"]["status"] == "down" and components["vault"]["error"]


def test_db_upgrade_and_current_from_the_cli(empty_database: DatabaseUrls, tmp_path: Path) -> None:
    env = {"CONTROLPLANE_DATABASE_URL": empty_database.owner, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    command = [sys.executable, "-m", "controlplane.cli", "db"]
    upgraded = subprocess.run([*command, "upgrade"], env=env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=120)
    assert upgraded.returncode == 0, upgraded.stderr
    current = subprocess.run([*command, "current"], env=env, cwd=tmp_path, capture_output=True, text=True,
                             timeout=120)
    head = migrate.head_revision()
    assert current.returncode == 0 and f"current: {head}  head: {head}" in current.stdout
    bad = subprocess.run(
        [*command, "current"], env={**env, "CONTROLPLANE_DATABASE_URL": "mysql://nope"}, cwd=tmp_path,
        capture_output=True, text=True, timeout=60,
    )
    assert bad.returncode == 2 and "CONTROLPLANE_DATABASE_URL" in bad.stderr
