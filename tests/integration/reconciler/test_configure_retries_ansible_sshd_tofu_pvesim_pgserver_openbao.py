"""The configure step's temporary failures, on a container: while its address does not accept connections
it shows Configured=False (Unreachable) and is retried with backoff; without an SSH key in Vault it shows
NoSSHKey and names the paths; once both are there it becomes Configured, as root over real SSH. A VM whose
guest agent reports no address shows WaitingForAddress.
Real PostgreSQL, OpenBao, OpenTofu + bpg/proxmox, pvesim, ansible-runner, a confined sshd test host."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from controlplane.reconciler.backoff import Backoff
from controlplane.reconciler.configurator import Configurator, ssh_key_paths
from controlplane.reconciler.worker import Worker, WorkerConfig
from controlplane.util.net import wait_for
from tests.fixtures.reconciler import worker_pace
from tests.fixtures.sshd import SshHost, SshKeyPair, _free_loopback_address
from tests.integration.reconciler.harness import CT, VM, condition, create_guest, guest, log_of, runs_of

PROBES = Path(__file__).resolve().parents[2] / "integration" / "ansible" / "playbooks"


def _configured_reason(world, guest_id, reason: str, kind: str = CT) -> dict:
    return wait_for(lambda: (row := guest(world, kind, guest_id))
                    and condition(row, "Configured").get("reason") == reason and row,
                    timeout=180, interval=0.2, what=f"Configured reason {reason}")


def test_unreachable_and_missing_key_are_retried_until_configured(
    make_rig, vault, pvesim_factory, ssh_host: SshHost, ssh_keys: SshKeyPair, tmp_path: Path
) -> None:
    sim = pvesim_factory(nodes=1, task_seconds=0)
    world = make_rig(sim)
    conf = Configurator(playbook_dir=PROBES, work_dir=tmp_path / "ansible", connect_timeout=1)
    injected = "{{ lookup('pipe', 'id') }}"
    variables = {"marker": "ct-probe-1", "note": injected, "ansible_connection": "local"}
    guest_id = create_guest(world, CT, "probe-1", power="stopped",
                            configure={"playbook": "probe.yml", "vars": variables})
    ctx = dataclasses.replace(world.context(), configure=conf, agent_timeout=1)
    worker = Worker(ctx, WorkerConfig(concurrency=1, **worker_pace(backoff=Backoff(base=0.5, cap=2.0)))).start()
    try:
        stopped = wait_for(lambda: (row := guest(world, CT, guest_id)) and row["status"].get("vmid")
                           and condition(row, "Configured").get("reason") == "GuestStopped" and row,
                           timeout=90, what="the container created, stopped")
        vmid = stopped["status"]["vmid"]
        sim.set_guest_ip(vmid, _free_loopback_address(22))  # nothing listens there
        import sqlalchemy as sa

        from controlplane.reconciler.store import system_tx

        with system_tx(world.engine) as conn:
            conn.execute(sa.text("UPDATE containers SET spec = spec || '{\"power\": \"running\"}', "
                                 "generation = generation + 1 WHERE id = :id"), {"id": guest_id})
        no_key = _configured_reason(world, guest_id, "NoSSHKey")
        paths = ssh_key_paths(world.tenant_id, world.project_id)
        assert paths[0] in condition(no_key, "Configured")["message"]
        assert condition(no_key, "Ready")["reason"] == "RetryScheduled"

        vault.write(f"controlplane/ssh/tenants/{world.tenant_id}", {"private_key": ssh_keys.private_pem})
        unreachable = _configured_reason(world, guest_id, "Unreachable")
        assert "does not accept connections" in condition(unreachable, "Configured")["message"]

        sim.set_guest_ip(vmid, ssh_host.address)
        done = _configured_reason(world, guest_id, "Configured")
        assert done["status"]["ipv4"] == ssh_host.address
        assert done["status"]["configuration"]["key_path"] == paths[1]
        assert done["status"]["configuration"]["user"] == "root"
        assert (ssh_host.root / "run" / "probe-ct-probe-1").exists(), "the play did not run on the guest"
        assert not Path("/run/probe-ct-probe-1").exists(), "ansible_* vars from the spec were not dropped"
    finally:
        worker.stop()
    runs = runs_of(world, guest_id)
    assert [r["state"] for r in runs].count("failed") >= 2, [(r["state"], r["error"]) for r in runs]
    assert any("no SSH private key in Vault" in (r["error"] or "") for r in runs)
    assert list((tmp_path / "ansible").iterdir()) == []
    log = " ".join(line["line"] for line in log_of(world, runs[-1]["id"]) if line["stream"] == "ansible")
    assert f"note={injected}" in log and "uid=0" not in log, "extra vars were templated"


def test_a_guest_that_reports_no_address_waits_for_one(make_rig, pvesim_factory,
                                                       tmp_path: Path) -> None:
    agent_down = "error,path=/nodes/*/qemu/*/agent/*,status=500,message=QEMU guest agent is not running"
    sim = pvesim_factory(nodes=1, task_seconds=0, faults=[agent_down])
    world = make_rig(sim)
    conf = Configurator(playbook_dir=PROBES, work_dir=tmp_path / "ansible", connect_timeout=1)
    vm_id = create_guest(world, VM, "no-address", configure={"playbook": "probe.yml", "vars": {"marker": "vm-1"}})
    ctx = dataclasses.replace(world.context(), configure=conf, agent_timeout=1)
    worker = Worker(ctx, WorkerConfig(concurrency=1, **worker_pace(backoff=Backoff(base=0.5, cap=2.0)))).start()
    try:
        waiting = _configured_reason(world, vm_id, "WaitingForAddress", kind=VM)
    finally:
        worker.stop()
    configured = condition(waiting, "Configured")
    assert configured["status"] == "False" and "no IPv4 address" in configured["message"], configured
    assert condition(waiting, "Ready")["status"] != "True" and not waiting["status"].get("ipv4")
    assert sim.state.guests[waiting["status"]["vmid"]].status == "running"
