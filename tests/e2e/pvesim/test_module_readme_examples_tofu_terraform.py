"""The proxmox-vm and proxmox-lxc modules as a reader of their READMEs meets them: each README example is
copied verbatim into a fresh directory (only the endpoint is replaced, and the token comes from the
environment, as the example says), then ``init``, ``plan``, ``apply``, ``plan -detailed-exitcode`` (0),
the guest stopped out of band, ``plan -detailed-exitcode`` (0 again), ``destroy``; with OpenTofu, and with
Terraform when it is on PATH. The SSH key is read with ``file()`` and keeps its trailing newline.

Invalid variables fail at ``plan`` with a message naming them, and a DHCP address behaves as documented.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from controlplane.pvesim import Simulator
from controlplane.util.net import wait_for
from tests.fixtures.pvesim import SimClient
from tests.fixtures.toolchain import Toolchain

REPO = Path(__file__).parents[3]
MODULES = REPO / "terraform" / "modules"
EXAMPLE_ENDPOINT = "https://pve1.example.org:8006/"
BINARIES = ["tofu"] + (["terraform"] if shutil.which("terraform") else [])
EXAMPLES = {"proxmox-vm": ("qemu", 101), "proxmox-lxc": ("lxc", 201)}


def readme_example(module: str) -> str:
    """The first ``hcl`` block under ``## Example`` in the module's README."""
    text = (MODULES / module / "README.md").read_text()
    section = text.split("## Example", 1)[1]
    match = re.search(r"```hcl\n(.*?)```", section, re.S)
    assert match, f"{module}/README.md has no hcl example"
    return match.group(1)


class Workdir:
    """A fresh root module directory, run with one binary (tofu or terraform) against one simulator."""

    def __init__(self, path: Path, binary: str, env: dict[str, str]) -> None:
        self.path, self.binary, self.env = path, binary, env

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([self.binary, *args, "-no-color"], cwd=self.path, env=self.env,
                                capture_output=True, text=True, timeout=300)
        if check:
            assert result.returncode == 0, f"{self.binary} {args[0]} failed:\n{result.stdout}\n{result.stderr}"
        return result

    def plan_exitcode(self) -> tuple[int, str]:
        result = self.run("plan", "-detailed-exitcode", check=False)
        assert result.returncode in (0, 2), result.stdout + result.stderr
        return result.returncode, result.stdout


def make_workdir(tmp_path: Path, toolchain: Toolchain, sim: Simulator, binary: str, main_tf: str) -> Workdir:
    """``main_tf`` in a new directory where ``./terraform/modules`` is this repository's, with a HOME whose
    ``~/.ssh/id_ed25519.pub`` ends in a newline and the provider configured as the README says."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "terraform").symlink_to(REPO / "terraform", target_is_directory=True)
    (root / "main.tf").write_text(main_tf)
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "reader@example.org",
                    "-f", str(home / ".ssh" / "id_ed25519")], check=True)
    assert (home / ".ssh" / "id_ed25519.pub").read_text().endswith("\n")
    path = str(toolchain.tofu) if binary == "tofu" else str(shutil.which(binary))
    env = toolchain.env(HOME=str(home), PROXMOX_VE_API_TOKEN=f"{sim.token_id}={sim.token_secret}",
                        SSL_CERT_FILE=sim.ca_file)
    return Workdir(root, path, env)


def power(sim: Simulator, kind: str, vmid: int, action: str) -> None:
    """Start or stop a guest through the Proxmox API, behind Terraform's back, and wait for it."""
    client = SimClient(sim)
    upid = client.data("POST", f"/nodes/pve1/{kind}/{vmid}/status/{action}")
    wait_for(lambda: client.data("GET", f"/nodes/pve1/tasks/{upid}/status")["status"] == "stopped",
             timeout=30, interval=0.05, what=upid)
    want = "stopped" if action == "stop" else "running"
    assert client.data("GET", f"/nodes/pve1/{kind}/{vmid}/status/current")["status"] == want


@pytest.mark.parametrize("binary", BINARIES)
@pytest.mark.parametrize("module", sorted(EXAMPLES))
def test_readme_example_life_cycle(
    toolchain: Toolchain, pvesim_factory: Callable[..., Simulator], tmp_path: Path, module: str, binary: str,
) -> None:
    sim = pvesim_factory(nodes=1)
    example = readme_example(module)
    assert example.count(EXAMPLE_ENDPOINT) == 1 and 'source  = "bpg/proxmox"' in example
    wd = make_workdir(tmp_path, toolchain, sim, binary, example.replace(EXAMPLE_ENDPOINT, sim.url + "/"))
    kind, vmid = EXAMPLES[module]

    wd.run("init")
    lock = (wd.path / ".terraform.lock.hcl").read_text()
    assert '/bpg/proxmox"' in lock and "hashicorp/proxmox" not in lock, lock
    assert wd.plan_exitcode()[0] == 2
    wd.run("apply", "-auto-approve")
    client = SimClient(sim)
    assert client.data("GET", f"/nodes/pve1/{kind}/{vmid}/status/current")["status"] == "running"
    if kind == "qemu":
        keys = client.data("GET", f"/nodes/pve1/qemu/{vmid}/config")["sshkeys"]
        assert "reader%40example.org" in keys, keys

    code, out = wd.plan_exitcode()
    assert code == 0, f"second plan is not empty:\n{out}"
    power(sim, kind, vmid, "stop")
    code, out = wd.plan_exitcode()
    assert code == 0, f"a guest stopped outside Terraform produced a diff:\n{out}"
    power(sim, kind, vmid, "start")
    code, out = wd.plan_exitcode()
    assert code == 0, f"a guest started outside Terraform produced a diff:\n{out}"

    wd.run("destroy", "-auto-approve")
    assert client.request("GET", f"/nodes/pve1/{kind}/{vmid}/config").status_code == 500
    assert json.loads((wd.path / "terraform.tfstate").read_text())["resources"] == []


BAD_VARIABLES: list[tuple[str, str, dict[str, Any], str]] = [
    ("proxmox-vm", "vlan", {"networks": [{"vlan_id": 4095}]}, "vlan_id"),
    ("proxmox-vm", "storage", {"disks": [{"size_gb": 8, "storage": "local lvm"}]}, "storage"),
    ("proxmox-vm", "ci-storage", {"cloud_init_storage": "my storage"}, "cloud_init_storage"),
    ("proxmox-vm", "ci-user", {"cloud_init_user": "John Doe"}, "cloud_init_user"),
    ("proxmox-vm", "pool", {"pool_id": "my pool"}, "pool_id"),
    ("proxmox-vm", "clone", {"clone_vm_id": 5}, "clone_vm_id"),
    ("proxmox-lxc", "vlan", {"networks": [{"vlan_id": 0}]}, "vlan_id"),
    ("proxmox-lxc", "storage", {"disk": {"size_gb": 4, "storage": "local lvm"}}, "storage"),
    ("proxmox-lxc", "pool", {"pool_id": "my pool"}, "pool_id"),
]
REQUIRED = {
    "proxmox-vm": {"node_name": "pve1", "vm_id": 150, "name": "bad-1"},
    "proxmox-lxc": {"node_name": "pve1", "vm_id": 250, "hostname": "bad-1",
                    "template_file_id": "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"},
}


def module_call(module: str, variables: dict[str, Any]) -> str:
    """A root module (JSON syntax) calling ``module`` with ``variables``, provider as in the README."""
    return json.dumps({
        "terraform": {"required_providers": {"proxmox": {"source": "bpg/proxmox"}}},
        "module": {"guest": {"source": f"./terraform/modules/{module}", **variables}},
    })


@pytest.fixture(scope="module")
def bad_variables_workdir(toolchain: Toolchain, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One initialised directory for the validation cases (they never reach Proxmox)."""
    root = tmp_path_factory.mktemp("bad-variables")
    (root / "terraform").symlink_to(REPO / "terraform", target_is_directory=True)
    for module in REQUIRED:
        (root / module).mkdir()
        (root / module / "terraform").symlink_to(REPO / "terraform", target_is_directory=True)
        (root / module / "main.tf.json").write_text(module_call(module, REQUIRED[module]))
        toolchain.run(root / module, "init", "-input=false", "-no-color")
    return root


@pytest.mark.parametrize(("module", "case", "variables", "name"), BAD_VARIABLES,
                         ids=[f"{m}-{c}" for m, c, _, _ in BAD_VARIABLES])
def test_invalid_variable_fails_at_plan_naming_it(
    toolchain: Toolchain, bad_variables_workdir: Path, module: str, case: str, variables: dict[str, Any], name: str,
) -> None:
    workdir = bad_variables_workdir / module
    (workdir / "main.tf.json").write_text(module_call(module, {**REQUIRED[module], **variables}))
    env = toolchain.env(PROXMOX_VE_ENDPOINT="https://127.0.0.1:1/", PROXMOX_VE_API_TOKEN="a@pve!b=c")
    result = toolchain.run(workdir, "plan", "-input=false", "-no-color", env=env, check=False)
    assert result.returncode == 1
    assert "Invalid value for variable" in result.stderr, result.stderr
    message = " ".join(result.stderr.split())
    assert f"{name} must" in message or f"'s {name} must" in message, message


def test_dhcp_address_changes_only_the_output_while_stopped(
    toolchain: Toolchain, pvesim_factory: Callable[..., Simulator], tmp_path: Path,
) -> None:
    """What the READMEs say of DHCP: stopping the guest changes ``ipv4_address`` to null and nothing else."""
    sim = pvesim_factory(nodes=1)
    main = {**json.loads(module_call("proxmox-lxc", {**REQUIRED["proxmox-lxc"], "networks": [{}]})),
            "provider": {"proxmox": {"endpoint": sim.url + "/"}},
            "output": {"ip": {"value": "${module.guest.ipv4_address}"}}}
    wd = make_workdir(tmp_path, toolchain, sim, "tofu", "")
    (wd.path / "main.tf").unlink()
    (wd.path / "main.tf.json").write_text(json.dumps(main))
    wd.run("init")
    wd.run("apply", "-auto-approve")
    assert wd.plan_exitcode()[0] == 0
    power(sim, "lxc", 250, "stop")
    wd.run("plan", "-out=stopped.tfplan", "-detailed-exitcode", check=False)
    plan = json.loads(wd.run("show", "-json", "stopped.tfplan").stdout)
    actions = {c["address"]: c["change"]["actions"] for c in plan.get("resource_changes", [])}
    assert set(map(tuple, actions.values())) <= {("no-op",)}, actions
    assert plan["output_changes"]["ip"]["after"] is None and plan["output_changes"]["ip"]["before"]
    wd.run("destroy", "-auto-approve")
