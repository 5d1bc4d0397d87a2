"""``controlplane inventory --list / --host`` against a real PostgreSQL: the same hosts, groups and variables
as ``ansible-inventory -i controlplane.yml --list``."""

from __future__ import annotations

import json
from pathlib import Path

from controlplane.db import migrate
from controlplane.db.embedded import DatabaseUrls, EmbeddedPostgres
from tests.integration.ansible.runner import ansible_env, groups_of, inventory_list, plain, run
from tests.integration.ansible.seed import GuestRow, seed

GUESTS = [
    GuestRow("web-1", vmid=100, ipv4="10.0.0.11", tags=["web"], labels={"tier": "web"}),
    GuestRow("erp-1", tenant="globex", project="erp", kind="container", vmid=102, power="stopped"),
]


def _cli(*args: str, env: dict[str, str]) -> dict:
    return json.loads(run("controlplane", "inventory", *args, env=env).stdout)


def test_list_matches_ansible_inventory(database: DatabaseUrls) -> None:
    seed(database.owner, GUESTS)
    env = ansible_env(CONTROLPLANE_DATABASE_URL=database.owner)
    ours, theirs = _cli("--list", env=env), plain(inventory_list(env))
    assert ours["_meta"]["hostvars"] == theirs["_meta"]["hostvars"]
    assert {g: h for g, h in groups_of(ours).items() if h} == {g: h for g, h in groups_of(theirs).items() if h}
    assert _cli("--host", "web-1.shop.acme", env=env) == theirs["_meta"]["hostvars"]["web-1.shop.acme"]
    missing = run("controlplane", "inventory", "--host", "nope", env=env, check=False)
    assert missing.returncode == 1 and "no host named 'nope'" in missing.stderr


def test_tenant_sees_only_its_hosts(database: DatabaseUrls) -> None:
    seed(database.owner, GUESTS)
    env = ansible_env(CONTROLPLANE_INVENTORY_DSN=database.owner)
    hosts = _cli("--list", "--tenant", "globex", env=env)["_meta"]["hostvars"]
    assert {h for h, v in hosts.items() if v.get("kind") != "node"} == {"erp-1.erp.globex"}
    # the application role alone cannot choose a tenant: it cannot sign the claim
    refused = run("controlplane", "inventory", "--list", "--tenant", "globex",
                  env=ansible_env(CONTROLPLANE_INVENTORY_DSN=database.app), check=False)
    assert refused.returncode == 1 and "owner role's URL" in refused.stderr and "erp-1" not in refused.stdout


def test_the_embedded_database_of_a_running_control_plane_is_found(
    pg_server: EmbeddedPostgres, tmp_path: Path
) -> None:
    urls = pg_server.ensure_database()  # the database `controlplane up` creates, on a running server
    migrate.upgrade(urls.owner)
    seed(urls.owner, [GuestRow("found-1", tenant="embedded", project="p", vmid=900)])
    (tmp_path / "postgres").symlink_to(pg_server.data_dir)
    env = ansible_env(CONTROLPLANE_DATA_DIR=str(tmp_path))
    assert "found-1.p.embedded" in _cli("--list", env=env)["_meta"]["hostvars"]
    assert "found-1.p.embedded" in inventory_list(env)["_meta"]["hostvars"]
