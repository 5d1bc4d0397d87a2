"""Backup and restore of an embedded install as an operator does it: ``controlplane up`` with the demo
cluster, a VM and a container Ready, ``controlplane backup`` while it runs, ``controlplane restore`` into a
fresh data directory, ``up`` there: every guest Ready again, a forced reconcile of each plans nothing, the
simulator received no request that changes anything, and ``controlplane audit verify`` passes. Restoring
into the running install, or into the old one once stopped, is refused."""

from __future__ import annotations

import json
import subprocess
import sys
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

from controlplane.util.net import wait_for
from tests.e2e.test_up_subprocess_pgserver_openbao import postgres_socket_dir, vault_of
from tests.e2e.upflow import Up, controlplane_up
from tests.fixtures.conditions import condition

PASSWORD = "correct horse battery staple"
SPEC = {"cluster": "demo", "node": "auto", "cores": 1, "memory_mb": 512,
        "disks": [{"size_gb": 8, "storage": "local-lvm"}], "image": "debian-12",
        "network": [{"bridge": "vmbr0", "ipv4": "dhcp"}], "power": "running"}
GUESTS = (("vms", "VirtualMachine", "web-1"), ("containers", "Container", "db-1"))


def cli(up: Up, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "controlplane.cli", *args], input=stdin, env=up.env,
                          cwd=Path(up.env["CONTROLPLANE_DATA_DIR"]).parent, capture_output=True, text=True,
                          timeout=300)


def login(up: Up) -> httpx.Client:
    client = httpx.Client(base_url=up.url, timeout=30)
    response = client.post("/api/v1/auth/login", json={"email": "admin@example.com", "password": PASSWORD})
    assert response.status_code == 200, response.text
    client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return client


def all_ready(client: httpx.Client, ids: dict[str, str]) -> dict[str, dict[str, Any]] | None:
    docs = {collection: client.get(f"/api/v1/{collection}/{ident}").json() for collection, ident in ids.items()}
    ready = all(condition(doc, "Ready").get("status") == "True" for doc in docs.values())
    return docs if ready else None


def owner(data_dir: Path) -> psycopg.Connection:
    return psycopg.connect(f"postgresql://controlplane_owner@/controlplane?host={postgres_socket_dir(data_dir)}")


def simulator(data_dir: Path) -> httpx.Client:
    """A root client of the demo cluster's simulator, with the token ``up`` registered (read from Vault)."""
    url = json.loads((data_dir / "pvesim" / "simulator.json").read_text())["url"]
    with owner(data_dir) as conn:
        (secret_path,) = conn.execute("SELECT secret_path FROM clusters WHERE name = 'demo'").fetchone()
    secret = vault_of(data_dir).read(secret_path)
    return httpx.Client(base_url=url, verify=False, timeout=30, headers={
        "Authorization": f"PVEAPIToken={secret['token_id']}={secret['token_secret']}"})


def guests_on_proxmox(sim: httpx.Client) -> dict[int, tuple[str, str, int, int]]:
    resources = sim.get("/api2/json/cluster/resources", params={"type": "vm"}).json()["data"]
    return {r["vmid"]: (r["type"], r["node"], int(r["maxmem"]), int(r["maxcpu"])) for r in resources}


def test_a_restored_install_brings_every_guest_back_ready_without_touching_proxmox(tmp_path: Path) -> None:
    old, new, backup = tmp_path / "old", tmp_path / "new", tmp_path / "backup"
    with controlplane_up(old) as up:
        made = cli(up, "user", "create", "admin@example.com", "--role", "admin", stdin=PASSWORD + "\n")
        assert made.returncode == 0, made.stderr
        with closing(login(up)) as client:
            assert client.post("/api/v1/tenants", json={"name": "acme"}).status_code == 201
            assert client.post("/api/v1/projects", json={"name": "shop", "tenant": "acme"}).status_code == 201
            ids = {}
            for collection, kind, name in GUESTS:
                response = client.post(f"/api/v1/{collection}", json={
                    "apiVersion": "controlplane/v1", "kind": kind,
                    "metadata": {"name": name, "project": "shop"}, "spec": SPEC})
                assert response.status_code == 201, response.text
                ids[collection] = response.json()["id"]
            before = wait_for(lambda: all_ready(client, ids), timeout=300, interval=1, what="the guests Ready")
        with simulator(old) as sim:
            proxmox_before = guests_on_proxmox(sim)
        assert len(proxmox_before) == 2

        online = cli(up, "backup", str(backup))  # while the control plane runs
        assert online.returncode == 0, online.stderr
        assert "running control plane" in online.stderr and "tables: " in online.stderr
        assert "restore it" not in online.stdout and "backup written to" in online.stdout
        refused = cli(up, "restore", str(backup), "--force")
        assert refused.returncode == 1 and "is running on" in refused.stderr
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["demo_cluster"] is True and manifest["postgresql"]["source"] == "embedded"
    assert manifest["postgresql"]["tables"]["public.virtual_machines"] == 1
    assert manifest["postgresql"]["tables"]["terraform_remote_state.states"] == 2
    assert manifest["vault"]["secrets"] >= 2  # the demo cluster's token and the signing key, at least
    secrets_text = (backup / "vault-kv.json").read_text()
    assert all(secret not in online.stdout + online.stderr for secret in json.loads(secrets_text)["secrets"])

    restore_env = {**up.env, "CONTROLPLANE_DATA_DIR": str(new)}
    into_old = subprocess.run([sys.executable, "-m", "controlplane.cli", "restore", str(backup)], env=up.env,
                              cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert into_old.returncode == 1 and "not empty" in into_old.stderr and "--force" in into_old.stderr
    restored = subprocess.run([sys.executable, "-m", "controlplane.cli", "restore", str(backup)], env=restore_env,
                              cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert restored.returncode == 0, restored.stderr

    with controlplane_up(new) as up, closing(login(up)) as client:
        after = wait_for(lambda: all_ready(client, ids), timeout=300, interval=1, what="the restored guests Ready")
        for collection in ids:
            assert after[collection]["status"]["vmid"] == before[collection]["status"]["vmid"]
            assert after[collection]["metadata"]["generation"] == before[collection]["metadata"]["generation"]
        # Make both guests due: a full reconcile (OpenTofu refresh and plan against the restored state).
        with owner(new) as conn:
            restored_at = conn.execute("SELECT now()").fetchone()[0]
            conn.execute("INSERT INTO work_leases (object_kind, object_id, tenant_id) "
                         "SELECT 'VirtualMachine', id, tenant_id FROM virtual_machines "
                         "UNION ALL SELECT 'Container', id, tenant_id FROM containers")

        def reconciled() -> list[tuple] | None:
            with owner(new) as conn:
                runs = conn.execute("SELECT target_name, action, state, summary FROM runs WHERE created_at > %s "
                                    "AND state IN ('succeeded', 'failed')", (restored_at,)).fetchall()
            return sorted(runs) if len(runs) >= 2 else None

        runs = wait_for(reconciled, timeout=300, interval=1, what="a reconcile of the restored guests")
        assert [(name, action, state) for name, action, state, _ in runs] == [
            ("db-1", "reconcile", "succeeded"), ("web-1", "reconcile", "succeeded")], runs
        for run in runs:  # a plan that changes nothing (or OpenTofu not run at all: the applied digest matches)
            assert not any(run[3]["plan"]["counts"].get(key) for key in ("create", "update", "replace", "delete")), run

        def observed_since_restore() -> bool:  # a resync saw the cluster (and both guests) after the restore
            (listed,) = client.get("/api/v1/clusters").json()["items"]
            seen = client.get(f"/api/v1/clusters/{listed['id']}").json()["status"].get("observed_at")
            return bool(seen) and datetime.fromisoformat(seen) > restored_at

        wait_for(observed_since_restore, timeout=120, interval=1, what="a resync of the restored cluster")
        assert all_ready(client, ids) is not None
        with simulator(new) as sim:
            assert guests_on_proxmox(sim) == proxmox_before
            requests = sim.get("/_sim/stats").json()["data"]["requests"]
        changes = [r for r in requests if r["method"] != "GET"]
        assert changes == [], changes
        assert any(r["path"].endswith("/status/current") or "cluster/resources" in r["path"] for r in requests)

        verified = cli(up, "audit", "verify")
        assert verified.returncode == 0, verified.stderr
        assert "audit chain intact" in verified.stdout
