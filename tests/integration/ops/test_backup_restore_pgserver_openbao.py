"""``controlplane backup`` / ``restore`` against an external PostgreSQL (pgserver, by URL) and an external
OpenBao (dev server, by address and token): a round trip into a fresh database and KV mount, the audit chain
intact afterwards, the files private, and every refusal (non-empty DIR, non-empty database, damaged file,
newer schema) before anything changes. A backup of an older schema is restored and then migrated."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import hvac
import psycopg
import pytest

from controlplane.db import migrate
from controlplane.db.embedded import DatabaseUrls, EmbeddedPostgres
from controlplane.drivers.vault import VaultStore
from tests.fixtures.postgres import create_database
from tests.fixtures.vault import VaultServer

_mounts = itertools.count(1)
pytestmark = pytest.mark.slow  # each test runs pg_dump / pg_restore and several CLI processes (20 s and more)

SECRET = "s3cr3t-token-value-4f1c"
OLDER = "0012_conditions_once"


def kv_mount(server: VaultServer) -> str:
    """A KV v2 mount of this test's own (the session's OpenBao is shared)."""
    name = f"kv-backup-{os.getpid()}-{next(_mounts)}"
    hvac.Client(url=server.addr, token=server.token).sys.enable_secrets_engine("kv", path=name,
                                                                               options={"version": "2"})
    return name


def cli(args: list[str], db: DatabaseUrls, vault: VaultServer, mount: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTROLPLANE_")}
    env.update(CONTROLPLANE_DATABASE_URL=db.owner, CONTROLPLANE_VAULT_ADDR=vault.addr,
               CONTROLPLANE_VAULT_TOKEN=vault.token, CONTROLPLANE_VAULT_KV_MOUNT=mount)
    return subprocess.run([sys.executable, "-m", "controlplane.cli", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def seed(db: DatabaseUrls, store: VaultStore) -> None:
    """Data in every kind of place a backup must keep: rows, an audit chain, Terraform state, secrets."""
    with psycopg.connect(db.owner) as conn:
        tenant = conn.execute("INSERT INTO tenants (name) VALUES ('acme') RETURNING id").fetchone()[0]
        conn.execute("INSERT INTO projects (name, tenant_id) VALUES ('shop', %s)", (tenant,))
        for n in range(3):
            conn.execute("INSERT INTO audit_events (actor, action, result) VALUES ('test', %s, 'success')",
                         (f"test.event{n}",))
        conn.execute("INSERT INTO terraform_remote_state.states (name, data) VALUES ('guest-1', '{\"v\": 4}')")
    store.write("controlplane/clusters/one", {"token_id": "root@pam!cp", "token_secret": SECRET})
    store.write("controlplane/system/jwt", {"key": "k" * 32})
    store.write("elsewhere/not-ours", {"value": "x"})


def rows(db: DatabaseUrls, query: str) -> list[tuple]:
    with psycopg.connect(db.owner) as conn:
        return conn.execute(query).fetchall()


def test_a_backup_restores_into_a_fresh_database_and_mount_with_the_audit_chain_intact(
    database: DatabaseUrls, empty_database: DatabaseUrls, vault_server: VaultServer, tmp_path: Path,
) -> None:
    source_mount, target_mount = kv_mount(vault_server), kv_mount(vault_server)
    seed(database, VaultStore(vault_server.addr, vault_server.token, mount=source_mount))
    backup = tmp_path / "backup"

    made = cli(["backup", str(backup)], database, vault_server, source_mount, tmp_path)
    assert made.returncode == 0, made.stderr
    assert SECRET not in made.stdout + made.stderr
    assert "tables: " in made.stderr  # progress of the dump
    assert backup.stat().st_mode & 0o777 == 0o700
    assert {p.name: p.stat().st_mode & 0o777 for p in backup.iterdir()} == {
        "manifest.json": 0o600, "postgres.dump": 0o600, "vault-kv.json": 0o600}
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["migration_revision"] == migrate.head_revision()
    assert manifest["postgresql"]["source"] == "external" and manifest["postgresql"]["server_version"].startswith("16")
    assert manifest["postgresql"]["tables"]["public.tenants"] == 1
    assert manifest["postgresql"]["tables"]["terraform_remote_state.states"] == 1
    assert manifest["vault"]["secrets"] == 2  # ours only, not elsewhere/
    assert set(manifest["files"]) == {"postgres.dump", "vault-kv.json"}

    again = cli(["backup", str(backup)], database, vault_server, source_mount, tmp_path)
    assert again.returncode == 1 and "not empty" in again.stderr and "--force" in again.stderr

    restored = cli(["restore", str(backup)], empty_database, vault_server, target_mount, tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert SECRET not in restored.stdout + restored.stderr
    assert rows(empty_database, "SELECT t.name, p.name FROM tenants t JOIN projects p ON p.tenant_id = t.id") == [
        ("acme", "shop")]
    assert rows(empty_database, "SELECT name, data FROM terraform_remote_state.states") == [("guest-1", '{"v": 4}')]
    assert rows(empty_database, "SELECT action FROM audit_events ORDER BY chain_seq")[-1] == ("backup.restore",)
    target = VaultStore(vault_server.addr, vault_server.token, mount=target_mount)
    assert target.read("controlplane/clusters/one")["token_secret"] == SECRET
    assert target.walk("controlplane/") == ["controlplane/clusters/one", "controlplane/system/jwt"]
    # the application and state roles work on the restored tables as before
    assert rows(empty_database, "SELECT has_table_privilege('controlplane_app', 'tenants', 'SELECT'), "
                "has_table_privilege('controlplane_tfstate', 'terraform_remote_state.states', 'UPDATE')") == [
        (True, True)]

    verified = cli(["audit", "verify"], empty_database, vault_server, target_mount, tmp_path)
    assert verified.returncode == 0, verified.stderr
    assert "audit chain intact: 4 events verified" in verified.stdout

    refused = cli(["restore", str(backup)], empty_database, vault_server, target_mount, tmp_path)
    assert refused.returncode == 1
    assert "not empty" in refused.stderr and "tenants (1)" in refused.stderr and "--force" in refused.stderr

    with psycopg.connect(empty_database.owner) as conn:
        conn.execute("INSERT INTO tenants (name) VALUES ('after-the-backup')")
    target.write("controlplane/clusters/extra", {"token_secret": "gone-after-force"})
    forced = cli(["restore", str(backup), "--force"], empty_database, vault_server, target_mount, tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert rows(empty_database, "SELECT name FROM tenants") == [("acme",)]
    assert target.walk("controlplane/") == ["controlplane/clusters/one", "controlplane/system/jwt"]
    assert cli(["audit", "verify"], empty_database, vault_server, target_mount, tmp_path).returncode == 0


def test_a_damaged_or_newer_backup_is_refused_before_anything_changes(
    database: DatabaseUrls, empty_database: DatabaseUrls, vault_server: VaultServer, tmp_path: Path,
) -> None:
    mount = kv_mount(vault_server)
    seed(database, VaultStore(vault_server.addr, vault_server.token, mount=mount))
    backup = tmp_path / "backup"
    assert cli(["backup", str(backup)], database, vault_server, mount, tmp_path).returncode == 0

    dump = backup / "postgres.dump"
    original = dump.read_bytes()
    dump.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    damaged = cli(["restore", str(backup)], empty_database, vault_server, kv_mount(vault_server), tmp_path)
    assert damaged.returncode == 1 and "does not match its checksum" in damaged.stderr
    dump.write_bytes(original)

    manifest = json.loads((backup / "manifest.json").read_text())
    manifest["migration_revision"] = "0099_from_the_future"
    (backup / "manifest.json").write_text(json.dumps(manifest))
    newer = cli(["restore", str(backup)], empty_database, vault_server, kv_mount(vault_server), tmp_path)
    assert newer.returncode == 1 and "0099_from_the_future" in newer.stderr and "newer" in newer.stderr

    assert migrate.current_revision(empty_database.owner) is None  # nothing was restored
    assert not (tmp_path / "missing").exists()
    missing = cli(["restore", str(tmp_path / "missing")], empty_database, vault_server, mount, tmp_path)
    assert missing.returncode == 1 and "manifest.json" in missing.stderr


@pytest.fixture
def older_database(pg_server: EmbeddedPostgres, database_dropper) -> DatabaseUrls:  # type: ignore[no-untyped-def]
    urls = create_database(pg_server)
    migrate.upgrade(urls.owner, OLDER)
    yield urls
    database_dropper.drop(urls)


def test_a_backup_of_an_older_schema_is_restored_then_migrated_to_head(
    older_database: DatabaseUrls, empty_database: DatabaseUrls, vault_server: VaultServer, tmp_path: Path,
) -> None:
    mount = kv_mount(vault_server)
    with psycopg.connect(older_database.owner) as conn:
        conn.execute("INSERT INTO tenants (name) VALUES ('old-timer')")
    backup = tmp_path / "backup"
    assert cli(["backup", str(backup)], older_database, vault_server, mount, tmp_path).returncode == 0
    assert json.loads((backup / "manifest.json").read_text())["migration_revision"] == OLDER

    restored = cli(["restore", str(backup)], empty_database, vault_server, kv_mount(vault_server), tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert f"migrated from {OLDER}" in restored.stderr
    assert migrate.current_revision(empty_database.owner) == migrate.head_revision()
    assert rows(empty_database, "SELECT name FROM tenants") == [("old-timer",)]
