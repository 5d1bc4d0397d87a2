"""OpenTofu from ``make tools``: the bpg provider from the filesystem mirror, state in our PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg

from controlplane.db.embedded import DatabaseUrls
from tests.fixtures.toolchain import Toolchain, pinned_versions

VERSIONS = pinned_versions()


def lib_pq_url(url: str) -> str:
    """Our socket URLs in the form the pg backend's driver wants (no TLS over a Unix socket)."""
    return url + "&sslmode=disable"


def root_module(source: str) -> dict[str, object]:
    return {
        "terraform": {
            "backend": {"pg": {}},
            "required_providers": {
                "proxmox": {"source": source, "version": VERSIONS["BPG_PROVIDER_VERSION"]}
            },
        },
        "output": {"greeting": {"value": "hello from pg"}},
    }


def test_version_is_the_pinned_one(toolchain: Toolchain, tmp_path: Path) -> None:
    result = toolchain.run(tmp_path, "version", "-json")
    assert json.loads(result.stdout)["terraform_version"] == VERSIONS["TOFU_VERSION"]


def test_init_finds_bpg_in_the_mirror_with_state_in_postgresql(
    toolchain: Toolchain, database: DatabaseUrls, tmp_path: Path
) -> None:
    for source in ("bpg/proxmox", "registry.terraform.io/bpg/proxmox"):
        workdir = tmp_path / source.replace("/", "_")
        workdir.mkdir()
        (workdir / "main.tf.json").write_text(json.dumps(root_module(source)))
        toolchain.run(workdir, "init", "-no-color", f"-backend-config=conn_str={lib_pq_url(database.owner)}")
        schema = json.loads(toolchain.run(workdir, "providers", "schema", "-json").stdout)
        (provider,) = schema["provider_schemas"].values()
        assert "proxmox_virtual_environment_vm" in provider["resource_schemas"]
        assert "proxmox_virtual_environment_container" in provider["resource_schemas"]

    toolchain.run(workdir, "apply", "-auto-approve", "-no-color")
    with psycopg.connect(database.owner) as conn:
        (state,) = conn.execute("SELECT data FROM terraform_remote_state.states WHERE name = 'default'").fetchone()
    assert json.loads(state)["outputs"]["greeting"]["value"] == "hello from pg"
