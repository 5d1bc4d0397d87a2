"""The ``controlplane`` console script as a user runs it (the installed executable, not ``python -m``):
``version``, ``db upgrade | downgrade | current``, ``api`` on external PostgreSQL and Vault, ``pvesim``; and
``up`` on a database where another cluster is registered, which then starts no simulator.
Real PostgreSQL (pgserver), OpenBao, pvesim."""

from __future__ import annotations

import importlib.metadata
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import psycopg
import requests

from controlplane.db import migrate
from controlplane.db.embedded import DatabaseUrls
from controlplane.drivers.vault import VaultStore
from tests.e2e.upflow import controlplane_up, ready
from tests.fixtures.api import build_api, register_sim, seed_user
from tests.fixtures.processes import start_listening, stop_process
from tests.fixtures.vault import VaultServer

CONTROLPLANE = str(Path(sys.executable).parent / "controlplane")
TOKEN = "root@pam!ci=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


def _env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTROLPLANE_")}
    env.update(settings)
    return env


def _run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CONTROLPLANE, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=180)


def _external(database: DatabaseUrls, vault_server: VaultServer, data_dir: Path) -> dict[str, str]:
    return {"CONTROLPLANE_DATABASE_URL": database.owner, "CONTROLPLANE_APP_DATABASE_URL": database.app,
            "CONTROLPLANE_VAULT_ADDR": vault_server.addr, "CONTROLPLANE_VAULT_TOKEN": vault_server.token,
            "CONTROLPLANE_DATA_DIR": str(data_dir)}


def test_version(tmp_path: Path) -> None:
    shown = _run("version", env=_env(), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == importlib.metadata.version("controlplane")


def test_db_upgrade_downgrade_and_current(empty_database: DatabaseUrls, tmp_path: Path) -> None:
    env = _env(CONTROLPLANE_DATABASE_URL=empty_database.owner)
    head = migrate.head_revision()
    assert _run("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    assert f"current: {head}  head: {head}" in _run("db", "current", env=env, cwd=tmp_path).stdout
    one_down = _run("db", "downgrade", "--", "-1", env=env, cwd=tmp_path)
    assert one_down.returncode == 0, one_down.stderr
    previous = migrate.current_revision(empty_database.owner)
    assert previous not in (None, head) and f"database at revision {previous}" in one_down.stdout + one_down.stderr
    assert _run("db", "downgrade", "base", env=env, cwd=tmp_path).returncode == 0
    with psycopg.connect(empty_database.owner) as conn:
        assert conn.execute("SELECT to_regclass('tenants')").fetchone() == (None,)
    assert f"current: None  head: {head}" in _run("db", "current", env=env, cwd=tmp_path).stdout


def test_api_serves_on_external_postgresql_and_vault(database: DatabaseUrls, vault_server: VaultServer,
                                                      tmp_path: Path) -> None:
    process, port = start_listening(
        lambda port: [CONTROLPLANE, "api", "--port", str(port)], ready, what="controlplane api", log_dir=tmp_path,
        timeout=120, env=_env(**_external(database, vault_server, tmp_path / "data")),
    )
    try:
        components = ready(port)["components"]  # type: ignore[index]
        assert components["postgresql"]["status"] == components["vault"]["status"] == "ok"
        assert "pvesim" not in components, "the API alone starts no simulator"
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=10).status_code == 200
    finally:
        assert stop_process(process, sig=signal.SIGINT, grace=60) == 0
    assert not (tmp_path / "data" / "postgres").exists(), "nothing embedded is started with external components"


def test_pvesim_serves_the_proxmox_api(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [CONTROLPLANE, "pvesim", "--port", "0", "--nodes", "2", "--guests", "3", "--token", TOKEN,
         "--ca-dir", str(tmp_path)], stdout=subprocess.PIPE, text=True, cwd=tmp_path, env=_env())
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("pvesim ready"), line
        fields = dict(part.split("=", 1) for part in line.split()[2:])
        nodes = requests.get(fields["api"] + "/nodes", verify=fields["ca"], timeout=30,
                             headers={"Authorization": f"PVEAPIToken={TOKEN}"})
        assert [n["node"] for n in nodes.json()["data"]] == ["pve1", "pve2"]
    finally:
        stop_process(process, grace=30)


def test_up_starts_no_simulator_when_another_cluster_is_registered(
    database: DatabaseUrls, vault: VaultStore, vault_server: VaultServer, pvesim, tmp_path: Path
) -> None:
    api = build_api(database, vault)
    seed_user(api.engine, "ops@example.test", "admin")
    register_sim(api.login("ops@example.test"), pvesim, name="prod")
    api.engine.dispose()
    data_dir = tmp_path / "data"
    with controlplane_up(data_dir, **_external(database, vault_server, data_dir)) as up:
        components = ready(up.port)["components"]  # type: ignore[index]
        assert "pvesim" not in components, components
    with psycopg.connect(database.owner) as conn:
        assert conn.execute("SELECT name FROM clusters").fetchall() == [("prod",)]
    assert not (data_dir / "pvesim").exists()
