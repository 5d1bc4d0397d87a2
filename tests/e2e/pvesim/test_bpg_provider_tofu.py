"""Proof with a real client: OpenTofu and the bpg/proxmox provider (raw resources, none of our modules)
drive a VM and a container through their life cycle against pvesim, with configs that need no SSH.

Create (the VM started, the container stopped), a second plan shows no changes, cores and memory change in
place, then destroy. The provider is configured from environment variables only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from controlplane.pvesim import Simulator
from tests.fixtures.pvesim import SimClient
from tests.fixtures.toolchain import Toolchain, pinned_versions

VERSIONS = pinned_versions()
TEMPLATE = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"


def raw_config(cores: int, memory: int) -> str:
    """A root module (HCL: the VM's NIC list is an attribute-as-blocks, which JSON syntax cannot express
    as a block) with one VM (started) and one container (stopped), sized by ``cores``/``memory``."""
    return f"""
terraform {{
  required_providers {{
    proxmox = {{ source = "bpg/proxmox", version = "{VERSIONS["BPG_PROVIDER_VERSION"]}" }}
  }}
}}
provider "proxmox" {{}}

resource "proxmox_virtual_environment_vm" "vm" {{
  node_name       = "pve1"
  vm_id           = 4100
  name            = "proof-vm"
  started         = true
  stop_on_destroy = true
  agent {{ enabled = false }}
  cpu {{ cores = {cores} }}
  memory {{ dedicated = {memory} }}
  disk {{
    datastore_id = "local-lvm"
    interface    = "scsi0"
    size         = 8
  }}
  network_device {{ bridge = "vmbr0" }}
}}

resource "proxmox_virtual_environment_container" "ct" {{
  node_name    = "pve2"
  vm_id        = 4200
  started      = false
  unprivileged = true
  operating_system {{
    template_file_id = "{TEMPLATE}"
    type             = "debian"
  }}
  disk {{
    datastore_id = "local-lvm"
    size         = 4
  }}
  cpu {{ cores = {cores} }}
  memory {{ dedicated = {memory} }}
  initialization {{ hostname = "proof-ct" }}
  network_interface {{
    name   = "eth0"
    bridge = "vmbr0"
  }}
}}
"""


def plan_actions(toolchain: Toolchain, workdir: Path, env: dict[str, str]) -> dict[str, list[str]]:
    """``tofu plan -out`` then ``show -json``: the actions planned for each resource address."""
    toolchain.run(workdir, "plan", "-input=false", "-no-color", "-out=plan.bin", env=env)
    plan = json.loads(toolchain.run(workdir, "show", "-json", "plan.bin", env=env).stdout)
    return {c["address"]: c["change"]["actions"] for c in plan.get("resource_changes", [])}


def guest(sim: Simulator, kind: str, node: str, vmid: int) -> tuple[dict[str, Any], str]:
    """A guest's config and power state, read through the simulator's API as a client would."""
    client = SimClient(sim)
    config = client.data("GET", f"/nodes/{node}/{kind}/{vmid}/config")
    status = client.data("GET", f"/nodes/{node}/{kind}/{vmid}/status/current")["status"]
    return config, status


def test_vm_and_container_life_cycle(
    toolchain: Toolchain, pvesim_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = pvesim_factory(nodes=2)
    env = toolchain.env(PROXMOX_VE_ENDPOINT=sim.url, PROXMOX_VE_API_TOKEN=f"{sim.token_id}={sim.token_secret}",
                        SSL_CERT_FILE=sim.ca_file)
    main = tmp_path / "main.tf"
    main.write_text(raw_config(cores=1, memory=512))
    assert sim.token_secret not in main.read_text()
    toolchain.run(tmp_path, "init", "-input=false", "-no-color", env=env)

    assert plan_actions(toolchain, tmp_path, env) == {
        "proxmox_virtual_environment_vm.vm": ["create"], "proxmox_virtual_environment_container.ct": ["create"]}
    toolchain.run(tmp_path, "apply", "-input=false", "-no-color", "plan.bin", env=env)
    vm_config, vm_power = guest(sim, "qemu", "pve1", 4100)
    ct_config, ct_power = guest(sim, "lxc", "pve2", 4200)
    assert (vm_power, ct_power) == ("running", "stopped")
    assert (vm_config["cores"], int(vm_config["memory"]), vm_config["name"]) == (1, 512, "proof-vm")
    assert (ct_config["cores"], ct_config["memory"], ct_config["hostname"]) == (1, 512, "proof-ct")

    second = toolchain.run(tmp_path, "plan", "-input=false", "-no-color", "-detailed-exitcode", env=env,
                           check=False)
    assert second.returncode == 0, f"second plan is not empty:\n{second.stdout}\n{second.stderr}"

    main.write_text(raw_config(cores=2, memory=1024))
    assert plan_actions(toolchain, tmp_path, env) == {
        "proxmox_virtual_environment_vm.vm": ["update"], "proxmox_virtual_environment_container.ct": ["update"]}
    toolchain.run(tmp_path, "apply", "-input=false", "-no-color", "plan.bin", env=env)
    vm_config, vm_power = guest(sim, "qemu", "pve1", 4100)
    ct_config, ct_power = guest(sim, "lxc", "pve2", 4200)
    assert (vm_config["cores"], int(vm_config["memory"]), vm_power) == (2, 1024, "running")
    assert (ct_config["cores"], ct_config["memory"], ct_power) == (2, 1024, "stopped")
    third = toolchain.run(tmp_path, "plan", "-input=false", "-no-color", "-detailed-exitcode", env=env, check=False)
    assert third.returncode == 0, f"plan after the update is not empty:\n{third.stdout}"

    toolchain.run(tmp_path, "destroy", "-auto-approve", "-input=false", "-no-color", env=env)
    client = SimClient(sim)
    client_status = {path: client.request("GET", path).status_code
                     for path in ("/nodes/pve1/qemu/4100/config", "/nodes/pve2/lxc/4200/config")}
    assert all(code in (404, 500) for code in client_status.values()), client_status
    state = json.loads((tmp_path / "terraform.tfstate").read_text())
    assert state["resources"] == []


@pytest.mark.parametrize("variable", ["PROXMOX_VE_API_TOKEN"])
def test_provider_without_token_in_environment_fails_cleanly(
    toolchain: Toolchain, pvesim: Simulator, tmp_path: Path, variable: str
) -> None:
    env = toolchain.env(PROXMOX_VE_ENDPOINT=pvesim.url, SSL_CERT_FILE=pvesim.ca_file)
    assert variable not in env
    (tmp_path / "main.tf").write_text(raw_config(cores=1, memory=512))
    toolchain.run(tmp_path, "init", "-input=false", "-no-color", env=env)
    result = toolchain.run(tmp_path, "plan", "-input=false", "-no-color", env=env, check=False)
    assert result.returncode != 0
    assert "credentials" in (result.stdout + result.stderr).lower()
