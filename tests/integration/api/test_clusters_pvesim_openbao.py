"""Cluster registration against the Proxmox VE simulator (proxmoxer) with the secret in real OpenBao."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from controlplane.db.embedded import DatabaseUrls
from controlplane.drivers.proxmox import probe_cluster
from controlplane.drivers.proxmox_probe import probe
from controlplane.drivers.vault import VaultStore
from controlplane.errors import PermanentError, TemporaryError
from controlplane.services.bootstrap import has_clusters, register_cluster
from controlplane.util.net import refused_port
from tests.fixtures.api import Api, World, seed_user


def test_probe_reports_nodes_capacity_and_storages(pvesim: Any) -> None:
    inventory = probe_cluster(pvesim.url, pvesim.token_id, pvesim.token_secret, verify=pvesim.ca_file)
    assert len(inventory.nodes) == 3 and inventory.version
    assert all(n.cpus > 0 and n.memory_total_mb > 0 for n in inventory.nodes)
    assert inventory.storages


def test_probe_errors_are_ours(pvesim: Any) -> None:
    with pytest.raises(PermanentError) as refused:
        probe_cluster(pvesim.url, pvesim.token_id, "wrong-secret", verify=pvesim.ca_file)
    assert refused.value.field == "token_secret"
    with pytest.raises(PermanentError):  # the simulator's certificate is not in the system trust store
        probe_cluster(pvesim.url, pvesim.token_id, pvesim.token_secret, verify=True)
    with refused_port() as port, pytest.raises(TemporaryError):
        probe_cluster(f"https://127.0.0.1:{port}", pvesim.token_id, pvesim.token_secret, timeout=2)


def test_registration_keeps_the_secret_in_vault_only(world: World, pvesim: Any, vault: VaultStore,
                                                     database: DatabaseUrls) -> None:
    listed = world.admin.get("/api/v1/clusters").json()["items"]
    assert [c["name"] for c in listed] == ["demo"]
    demo = listed[0]
    assert len(demo["nodes"]) == 3 and demo["status"]["version"]
    assert pvesim.token_secret not in str(listed)
    assert vault.read("controlplane/clusters/demo")["token_secret"] == pvesim.token_secret
    with psycopg.connect(database.owner) as conn:
        dump = conn.execute("SELECT to_jsonb(c)::text FROM clusters c").fetchone()[0]
    assert pvesim.token_secret not in dump and "controlplane/clusters/demo" in dump
    # users see the cluster (to name it in a spec) but not where it is or which token it uses
    seen = world.acme.member.get("/api/v1/clusters").json()["items"][0]
    assert seen["endpoint"] == "" and seen["token_id"] == ""


def test_registration_rules(world: World, pvesim: Any) -> None:
    body = {"name": "other", "endpoint": pvesim.url, "token_id": pvesim.token_id, "token_secret": "wrong",
            "ca_cert_pem": Path(pvesim.ca_file).read_text()}
    bad = world.admin.post("/api/v1/clusters", json=body)
    assert bad.status_code == 422 and bad.json()["field"] == "token_secret"
    assert world.acme.manager.post("/api/v1/clusters", json=body | {"token_secret": pvesim.token_secret}
                                   ).status_code == 403
    duplicate = world.admin.post("/api/v1/clusters", json=body | {"name": "demo", "token_secret": "x"})
    assert duplicate.status_code == 409
    assert [c["name"] for c in world.admin.get("/api/v1/clusters").json()["items"]] == ["demo"]


def test_bootstrap_registration_is_idempotent(api: Api, pvesim: Any, vault: VaultStore) -> None:
    assert not has_clusters(api.engine)
    args = (api.engine, vault, "demo", pvesim.url, pvesim.token_id, pvesim.token_secret)
    ca = Path(pvesim.ca_file).read_text()
    first = register_cluster(*args, ca_cert_pem=ca, verify_tls=True, prober=probe)
    second = register_cluster(*args, ca_cert_pem=ca, verify_tls=True, prober=probe)
    assert first["id"] == second["id"] and len(first["nodes"]) == 3
    assert has_clusters(api.engine)
    seed_user(api.engine, "admin@example.test", "admin")
    admin = api.login("admin@example.test")
    assert len(admin.get("/api/v1/clusters").json()["items"]) == 1
