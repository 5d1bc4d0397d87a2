"""Configuration runs through the whole product: a VM created with ``configure`` over ``/api/v1`` becomes Ready
and Configured, with the play's events in its run log (``GET /api/v1/runs/{id}/log``). The guest is a real
sshd test host: the simulator reports its address as the VM's IP, the worker observes it, and ansible-runner
reaches it with the SSH key the operator put in OpenBao. Then: an edit of the playbook's content runs it
again (no spec change); a failed task shows as Configured=False naming the task and host, and is not
retried in a loop; fixing the spec configures it again.
Real PostgreSQL, OpenBao, OpenTofu + bpg/proxmox, pvesim, ansible-runner over SSH.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from controlplane.reconciler.configurator import Configurator
from controlplane.util.net import wait_for
from tests.e2e.reconciler.apiflow import PATHS, Product, condition, set_up
from tests.fixtures.sshd import SshHost, SshKeyPair

PLAYBOOKS = Path(__file__).resolve().parents[3] / "playbooks"


def _configured(product: Product, doc: dict, generation: int, digest: str | None = None) -> dict:
    return product.wait(doc, lambda d: d["status"]["observed_generation"] >= generation
                        and condition(d, "Configured").get("status") == "True"
                        and condition(d, "Ready").get("status") == "True"
                        and (d["status"].get("configuration") or {}).get("digest") not in (None, digest),
                        f"{doc['metadata']['name']} Configured at generation {generation}", timeout=180)


def _cluster_observed_at(product: Product) -> str | None:
    """When the worker last observed the cluster, as ``GET /api/v1/clusters`` shows it."""
    resp = product.admin.get("/api/v1/clusters")
    assert resp.status_code == 200, resp.text
    return next(c for c in resp.json()["items"] if c["name"] == "demo")["status"].get("observed_at")


def _patch_vars(product: Product, doc: dict, variables: dict) -> int:
    path = f"{PATHS[doc['kind']]}/{doc['id']}"
    etag = product.user.get(path).headers["ETag"]
    resp = product.user.patch(path, json={"spec": {"configure": {"playbook": "site.yml", "vars": variables}}},
                              headers={"If-Match": etag})
    assert resp.status_code == 200, resp.text
    return resp.json()["metadata"]["generation"]


def test_vm_with_configure_becomes_configured(database, vault, toolchain, pvesim_factory, ssh_host: SshHost,
                                              ssh_keys: SshKeyPair, tmp_path: Path) -> None:
    sim = pvesim_factory(nodes=1, task_seconds=0)
    product = set_up(database, vault, toolchain, sim, tmp_path)
    key_path = f"controlplane/ssh/projects/{product.project_id}"
    vault.write(key_path, {"private_key": ssh_keys.private_pem})
    playbooks = tmp_path / "playbooks"
    shutil.copytree(PLAYBOOKS, playbooks)
    work = tmp_path / "ansible"
    alice = {"name": "cpalice", "ssh_keys": [ssh_keys.public_line]}
    base = {"baseline_packages": [], "baseline_timezone": "Europe/Berlin", "connection_timeout": 30}

    # Created stopped, so that the simulator can be told the guest's address before it first runs.
    vm = product.create("VirtualMachine", "web-1", power="stopped",
                        configure={"playbook": "site.yml", "vars": {**base, "baseline_users": [alice]}})
    # The test host's address is a loopback one, which the provider never accepts as the agent's answer:
    # its reads of the running VM wait agent_timeout, then go on with a warning.
    with product.worker(configure=Configurator(playbook_dir=playbooks, work_dir=work), agent_timeout=1):
        stopped = product.wait_ready(vm)
        assert condition(stopped, "Configured")["reason"] == "GuestStopped"
        sim.set_guest_ip(stopped["status"]["vmid"], ssh_host.address)
        assert product.user.post(f"/api/v1/vms/{vm['id']}/actions/start").status_code == 202

        done = _configured(product, vm, generation=2)
        status = done["status"]
        assert status["ipv4"] == ssh_host.address and status["power"] == "running"
        assert status["configuration"]["ok"] and status["configuration"]["key_path"] == key_path
        assert status["configuration"]["changed"] > 0 and status["configuration"]["user"] == "root"
        assert "cpalice:" in (ssh_host.etc / "passwd").read_text()
        assert ssh_host.in_namespace("hostname").strip() == "web-1"
        run = wait_for(lambda: next((r for r in reversed(product.runs(vm)) if r["summary"].get("configure")
                                     and r["state"] != "running"), None), timeout=120, what="the run to end")
        assert run["state"] == "succeeded" and run["summary"]["configure"]["status"] == "successful"
        log = product.log(run)
        ansible = [line["line"] for line in log if line["stream"] == "ansible"]
        assert any("TASK [users : Create or remove users]" in line for line in ansible), ansible[:20]
        assert any("PLAY RECAP" in line for line in ansible)
        assert any(f"vault:{key_path}" in line["line"] for line in log)
        assert not any("PRIVATE KEY" in line["line"] for line in log)
        assert list(work.iterdir()) == [], "the run's private data dir (and its key) was not removed"

        # An edit of the playbook's content (no spec change) runs it again.
        first_digest = status["configuration"]["digest"]
        runs_before = len(product.runs(vm))
        with (playbooks / "roles" / "hostname" / "tasks" / "main.yml").open("a") as handle:
            handle.write("# edited\n")
        again = _configured(product, vm, generation=2, digest=first_digest)
        assert again["metadata"]["generation"] == 2 and len(product.runs(vm)) > runs_before
        assert again["status"]["configuration"]["changed"] == 0

        # A failed task is shown with task and host, and not retried until something changes.
        generation = _patch_vars(product, vm, {**base, "baseline_users": [{**alice, "groups": ["cp-no-such-group"]}]})
        failed = product.wait(vm, lambda d: d["status"]["observed_generation"] >= generation
                              and condition(d, "Configured").get("status") == "False", "Configured=False")
        configured = condition(failed, "Configured")
        assert configured["reason"] == "TaskFailed", configured
        assert "'Create or remove users'" in configured["message"] and "web-1" in configured["message"], configured
        assert condition(failed, "Ready")["status"] == "False"
        assert failed["status"]["configuration"]["failed_task"] == "Create or remove users"
        runs_after_failure = len(product.runs(vm))
        seen = _cluster_observed_at(product)
        for _ in range(3):  # three more observations of the cluster, and no new run
            seen = wait_for(lambda s=seen: (o := _cluster_observed_at(product)) not in (None, s) and o,
                            timeout=120, what="another observation of the cluster")
        assert len(product.runs(vm)) == runs_after_failure

        generation = _patch_vars(product, vm, {**base, "baseline_users": [alice, {**alice, "name": "cpbob"}]})
        _configured(product, vm, generation=generation)
        assert "cpbob:" in (ssh_host.etc / "passwd").read_text()
    wait_for(lambda: not list(work.iterdir()), timeout=60, what="no run directory left")
