"""Ansible as an operator runs it, with real ``ansible-playbook``, ``ansible-inventory``, ``ansible-doc`` and
``ansible-galaxy`` against a real PostgreSQL.

- An inventory that cannot be read (no database, a wrong DSN, a bad option) fails
  ``ansible-playbook -i controlplane.yml playbooks/site.yml`` with the plugin's message, under the shipped
  ``ansible.cfg`` (no "no hosts matched" and exit 0, no other plugin's complaints).
- The collection ``controlplane.controlplane``, built with ``ansible-galaxy collection build`` and installed,
  serves ``plugin: controlplane.controlplane.inventory`` and ``ansible-doc`` from a directory outside the
  repository.
- ``ostype`` is the Proxmox OS type, the image has its own variable, and ``nodes: false`` takes the Proxmox
  nodes out of ``all``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from controlplane.db.embedded import DatabaseUrls
from controlplane.util.net import free_port
from tests.integration.ansible.runner import REPO, ansible_env, inventory_list, plain, run
from tests.integration.ansible.seed import GuestRow, seed

GUESTS = [
    GuestRow("web-1", vmid=100, ipv4="10.0.0.11"),
    GuestRow("win-1", vmid=101, image="win11-24h2"),
    GuestRow("cache-1", kind="container", vmid=102, image="alpine-3.20"),
]
OTHER_PLUGINS = ("'yaml' plugin", "'ini' plugin", "'auto' plugin", "'host_list' plugin", "'script' plugin")


@pytest.fixture(scope="module")
def collections_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The collection built from this repository and installed into a fresh collections directory."""
    work = tmp_path_factory.mktemp("collection")
    built = subprocess.run([sys.executable, str(REPO / "tools" / "build_collection.py"), "--output-dir",
                            str(work / "dist")], capture_output=True, text=True, timeout=300, check=True)
    tarball = Path(built.stdout.strip())
    assert tarball.parent == work / "dist" and tarball.name.startswith("controlplane-controlplane-"), built.stdout
    target = work / "collections"
    run("ansible-galaxy", "collection", "install", "-p", str(target), str(tarball), env=ansible_env(), cwd=work)
    assert (target / "ansible_collections" / "controlplane" / "controlplane" / "plugins" / "inventory").is_dir()
    return target


def outside_repo_env(collections: Path, **extra: str) -> dict[str, str]:
    """An environment with no ansible.cfg of ours: only the installed collection."""
    env = ansible_env(ANSIBLE_COLLECTIONS_PATH=str(collections), **extra)
    env.pop("ANSIBLE_CONFIG")
    return env


def test_collection_inventory_plugin_works_from_any_directory(
    database: DatabaseUrls, collections_path: Path, tmp_path: Path,
) -> None:
    seed(database.owner, GUESTS)
    (tmp_path / "controlplane.yml").write_text("plugin: controlplane.controlplane.inventory\n")
    env = outside_repo_env(collections_path, CONTROLPLANE_DATABASE_URL=database.owner)
    listing = run("ansible-inventory", "-i", "controlplane.yml", "--list", env=env, cwd=tmp_path)
    hosts = set(json.loads(listing.stdout)["_meta"]["hostvars"])
    assert {"web-1.shop.acme", "win-1.shop.acme", "cache-1.shop.acme", "pve1", "pve2"} == hosts

    doc = run("ansible-doc", "-t", "inventory", "controlplane.controlplane.inventory", env=env, cwd=tmp_path)
    assert "controlplane.controlplane.inventory" in doc.stdout and "dsn" in doc.stdout
    assert "nodes" in doc.stdout and "all" in doc.stdout


def test_repository_plugin_accepts_the_collection_name(database: DatabaseUrls, tmp_path: Path) -> None:
    seed(database.owner, GUESTS[:1])
    inventory = tmp_path / "fq.controlplane.yml"
    inventory.write_text("plugin: controlplane.controlplane.inventory\n")
    hosts = inventory_list(ansible_env(CONTROLPLANE_DATABASE_URL=database.owner), str(inventory))["_meta"]
    assert "web-1.shop.acme" in hosts["hostvars"]


@pytest.mark.parametrize("case", ["no-database", "wrong-dsn", "bad-option"])
def test_an_unreadable_inventory_fails_the_playbook_with_the_plugin_message(
    database: DatabaseUrls, tmp_path: Path, case: str,
) -> None:
    seed(database.owner, GUESTS[:1])
    inventory, env = "controlplane.yml", ansible_env(CONTROLPLANE_DATA_DIR=str(tmp_path / "no-data"))
    if case == "no-database":
        message = "no database for the inventory"
    elif case == "wrong-dsn":
        wrong = f"postgresql://controlplane_owner:secret-pw@127.0.0.1:{free_port()}/controlplane"
        env["CONTROLPLANE_INVENTORY_DSN"] = wrong
        message = "cannot read the inventory database"
    else:
        bad = tmp_path / "bad.controlplane.yml"
        bad.write_text("plugin: controlplane\nhostnames: fancy\n")
        inventory, env["CONTROLPLANE_DATABASE_URL"] = str(bad), database.owner
        message = "hostnames"
    proc = run("ansible-playbook", "-i", inventory, "playbooks/site.yml", env=env, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert message in proc.stderr, output
    assert "Failed to parse inventory with 'controlplane' plugin" in proc.stderr, output
    assert "no hosts matched" not in output
    assert not any(other in output for other in OTHER_PLUGINS), output
    assert "secret-pw" not in output


def test_ostype_is_the_proxmox_os_type_and_nodes_can_be_left_out(database: DatabaseUrls, tmp_path: Path) -> None:
    seed(database.owner, GUESTS)
    env = ansible_env(CONTROLPLANE_DATABASE_URL=database.owner)
    hostvars = plain(inventory_list(env)["_meta"]["hostvars"])
    assert {h: (v.get("ostype"), v.get("image")) for h, v in hostvars.items() if "kind" in v and v["kind"] != "node"
            } == {"web-1.shop.acme": ("l26", "debian-12"), "win-1.shop.acme": ("win11", "win11-24h2"),
                  "cache-1.shop.acme": ("alpine", "alpine-3.20")}

    every = run("ansible", "all", "-i", "controlplane.yml", "--list-hosts", env=env).stdout
    assert "pve1" in every and "web-1.shop.acme" in every  # `all` includes the Proxmox nodes by default
    guests_only = tmp_path / "guests.controlplane.yml"
    guests_only.write_text("plugin: controlplane\nnodes: false\n")
    listed = run("ansible", "all", "-i", str(guests_only), "--list-hosts", env=env).stdout
    assert "pve1" not in listed and "pve2" not in listed and "web-1.shop.acme" in listed
