"""Our proxmox-vm and proxmox-lxc modules through the Terraform driver: real OpenTofu, the bpg provider from
the mirror, state in a pgserver database, a private pvesim per test.

Life cycle: create → outputs vmid/node/MAC/IP → second plan empty → cores/memory changed in place → power
changed out of band (proxmoxer) gives no diff → destroy. Secrets appear nowhere: not in the run directory,
the state rows or the streamed events.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from controlplane.db.embedded import DatabaseUrls
from controlplane.drivers.terraform import (
    GuestModule,
    ProxmoxCredentials,
    TerraformDriver,
    TerraformRunner,
    started_processes,
)
from controlplane.errors import PermanentError
from controlplane.pvesim import Simulator
from tests.fixtures.pvesim import proxmox_client, wait_task
from tests.fixtures.toolchain import Toolchain

TEMPLATE = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"


def make_driver(toolchain: Toolchain, database: DatabaseUrls, run_root: Path) -> TerraformDriver:
    """A driver on the session's toolchain with state in ``database``."""
    runner = TerraformRunner(binary=str(toolchain.tofu), pg_conn_str=database.owner + "&sslmode=disable",
                             cli_config=toolchain.cli_config, plugin_cache_dir=toolchain.plugin_cache)
    return TerraformDriver(runner=runner, run_root=run_root, init_root=run_root.with_name("init"))


def _started_since(before: dict[str, int]) -> dict[str, int]:
    """The OpenTofu processes started since ``before`` (a :func:`started_processes` reading), by command."""
    now = started_processes()
    return {command: n - before.get(command, 0) for command, n in now.items() if n > before.get(command, 0)}


def credentials(sim: Simulator) -> ProxmoxCredentials:
    """The simulator's root token, trusted through its CA file."""
    return ProxmoxCredentials(endpoint=sim.url, api_token=f"{sim.token_id}={sim.token_secret}", ca_file=sim.ca_file)


proxmox = proxmox_client


def set_power(sim: Simulator, kind: str, node: str, vmid: int, action: str) -> None:
    """Start or stop a guest through the API (out of band for Terraform) and wait for the task."""
    px = proxmox(sim)
    upid = getattr(px.nodes(node), kind)(vmid).status(action).post()
    assert wait_task(px, node, upid)["exitstatus"] == "OK"


def state_rows(database: DatabaseUrls) -> dict[str, str]:
    """Workspace name → raw state JSON from the pg backend's table."""
    with psycopg.connect(database.owner) as conn:
        return dict(conn.execute("SELECT name, data FROM terraform_remote_state.states").fetchall())


@pytest.mark.parametrize(
    ("kind", "api", "variables"),
    [
        ("VirtualMachine", "qemu", {"name": "web-1", "agent_enabled": True, "disks": [{"size_gb": 10}],
                                    "description": "managed by controlplane: VirtualMachine 1"}),
        # PVE prints a container's description back with a trailing newline: the second plan must be clean.
        ("Container", "lxc", {"hostname": "db-1", "template_file_id": TEMPLATE, "os_type": "debian",
                              "description": "managed by controlplane: Container 1"}),
    ],
)
def test_guest_life_cycle_through_our_module(
    toolchain: Toolchain, database: DatabaseUrls, pvesim_factory: Callable[..., Simulator], tmp_path: Path,
    kind: str, api: str, variables: dict[str, Any],
) -> None:
    sim = pvesim_factory(nodes=2)
    driver = make_driver(toolchain, database, tmp_path / "runs")
    creds = credentials(sim)
    events: list[dict[str, Any]] = []
    workspace = f"{api}-5001"
    guest = GuestModule(kind, {"node_name": "pve2", "vm_id": 5001, "cores": 1, "memory_mb": 512, **variables})

    before = started_processes()
    first = driver.converge(guest, workspace, creds, on_event=events.append)
    assert _started_since(before) == {"init": 1, "plan": 1, "apply": 1}, "a create is one plan and one apply"
    assert first.plan.create == (guest.resource_address,) and first.applied
    outputs = first.outputs
    assert (outputs["vm_id"], outputs["node_name"]) == (5001, "pve2")
    config = getattr(proxmox(sim).nodes("pve2"), api)(5001).config.get()
    nic = config["net0"]
    assert outputs["mac_address"] and outputs["mac_address"] in nic, (outputs, nic)
    assert outputs["ipv4_address"] and outputs["ipv4_address"].count(".") == 3, outputs
    assert any(e.get("type") == "apply_complete" for e in events), "apply events were not streamed"

    before = started_processes()
    second = driver.converge(guest, workspace, creds)
    assert not second.plan.changed and not second.applied, second.plan
    assert _started_since(before) == {"plan": 1}, "the shared init is reused and nothing is shown or output"
    assert second.outputs == outputs, "the outputs of a run that applies nothing are the stored state's"

    bigger = GuestModule(kind, {**guest.variables, "cores": 2, "memory_mb": 1024})
    resized = driver.converge(bigger, workspace, creds)
    assert resized.plan.update == (guest.resource_address,) and not resized.plan.replace, resized.plan
    config = getattr(proxmox(sim).nodes("pve2"), api)(5001).config.get()
    assert (config["cores"], int(config["memory"])) == (2, 1024)
    status = getattr(proxmox(sim).nodes("pve2"), api)(5001).status.current.get()["status"]
    assert status == "running", "an in-place update must leave the power state as it was"

    set_power(sim, api, "pve2", 5001, "stop")
    assert not driver.plan(bigger, workspace, creds).changed, "a guest stopped out of band produced a diff"
    set_power(sim, api, "pve2", 5001, "start")
    assert not driver.plan(bigger, workspace, creds).changed, "a guest started out of band produced a diff"

    gone = driver.destroy(workspace, creds, on_event=events.append)
    assert gone.plan.delete == (guest.resource_address,)
    assert 5001 not in [g["vmid"] for g in proxmox(sim).cluster.resources.get(type="vm")]
    assert json.loads(state_rows(database)[workspace])["resources"] == []
    assert not list((tmp_path / "runs").iterdir()), "run directories must be removed after each run"


def test_secrets_stay_out_of_run_dir_state_and_events(
    toolchain: Toolchain, database: DatabaseUrls, pvesim_factory: Callable[..., Simulator], tmp_path: Path,
) -> None:
    sim = pvesim_factory(nodes=1)
    runner = TerraformRunner(binary=str(toolchain.tofu), pg_conn_str=database.owner + "&sslmode=disable",
                             cli_config=toolchain.cli_config, plugin_cache_dir=toolchain.plugin_cache)
    creds = credentials(sim)
    guest = GuestModule("Container", {"node_name": "pve1", "vm_id": 5100, "hostname": "ct-1",
                                      "template_file_id": TEMPLATE})
    events: list[str] = []
    from controlplane.drivers.terraform_render import root_module, run_directory, variables_file

    with run_directory(root_module(guest), variables_file(guest), parent=tmp_path) as workdir:
        runner.init(workdir, "lxc-5100", on_event=lambda e: events.append(json.dumps(e)))
        runner.plan(workdir, creds.env(), on_event=lambda e: events.append(json.dumps(e)))
        runner.apply(workdir, creds.env(), on_event=lambda e: events.append(json.dumps(e)))
        files = [p for p in workdir.rglob("*") if p.is_file() and not p.is_symlink()]
        assert any(p.name == "plan.tfplan" for p in files)
        for path in files:
            assert sim.token_secret.encode() not in path.read_bytes(), f"token secret written to {path}"
        assert creds.endpoint not in (workdir / "main.tf.json").read_text()
    assert sim.token_secret not in "".join(events)
    assert sim.token_secret not in state_rows(database)["lxc-5100"]

    # A provider error that echoes the credentials is redacted before anyone sees it.
    redact = runner.redactor(creds.env())
    assert sim.token_secret not in redact(f"401 bad token {creds.api_token}")


def test_invalid_variable_is_a_permanent_error_naming_it(
    toolchain: Toolchain, database: DatabaseUrls, pvesim: Simulator, tmp_path: Path,
) -> None:
    driver = make_driver(toolchain, database, tmp_path)
    guest = GuestModule("VirtualMachine", {"node_name": "pve1", "vm_id": 5200, "name": "Not_A_Label",
                                           "cores": 1})
    with pytest.raises(PermanentError) as caught:
        driver.converge(guest, "qemu-5200", credentials(pvesim))
    assert "name" in caught.value.message and "DNS label" in caught.value.message
