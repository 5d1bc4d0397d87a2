"""A VirtualMachine goes from request to Ready through the worker: lease, intent, OpenTofu (bpg provider,
state in PostgreSQL) against the simulator, power through proxmoxer, run records with the streamed log.
Real PostgreSQL (pgserver), OpenBao, OpenTofu + bpg, pvesim."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.reconciler.harness import (
    VM,
    condition,
    create_guest,
    log_of,
    proxmox,
    runs_of,
    wait_ready,
)


def test_vm_becomes_ready_with_vmid_node_and_ip(make_rig, pvesim_factory, tmp_path: Path) -> None:
    sim = pvesim_factory(nodes=2, task_seconds=0)
    world = make_rig(sim)
    vm_id = create_guest(world, VM, "web-1", cores=1, memory_mb=512)
    with world.worker(concurrency=1):
        row = wait_ready(world, VM, vm_id)
    status = row["status"]
    assert status["vmid"] >= 100 and status["node"] in ("pve1", "pve2"), status
    assert status["ipv4"] and status["ipv4"].count(".") == 3, status
    assert status["power"] == "running" and "create_pending" not in status
    assert status["placement"]["policy"] == "spread"
    assert condition(row, "Provisioned")["status"] == "True"
    assert row["observed_generation"] == row["generation"] == 1

    config = proxmox(sim).nodes(status["node"]).qemu(status["vmid"]).config.get()
    assert config["name"] == "web-1" and int(config["memory"]) == 512

    runs = runs_of(world, vm_id)
    assert [r["state"] for r in runs] == ["succeeded"], runs
    run = runs[0]
    assert run["action"] == "create" and run["summary"]["plan"]["counts"]["create"] == 1
    assert set(run["summary"]["timings"]) >= {"init", "plan", "apply"}
    lines = log_of(world, run["id"])
    events = [json.loads(x["line"]) for x in lines if x["stream"] == "tofu"]
    assert any(e.get("type") == "apply_complete" for e in events), "apply events were not streamed into the log"
    text = "\n".join(x["line"] for x in lines)
    assert sim.token_secret not in text
    assert not list((tmp_path / "runs").iterdir()), "run directories must be removed"


def test_reconciler_actions_are_audited_in_the_hash_chain(make_rig, database, pvesim_factory,
                                                           tmp_path: Path) -> None:
    import psycopg

    from controlplane.services.audit import SUCCESS

    sim = pvesim_factory(nodes=1, task_seconds=0)
    world = make_rig(sim)
    vm_id = create_guest(world, VM, "audited", cores=1, memory_mb=512)
    with world.worker(concurrency=1):
        wait_ready(world, VM, vm_id)
    run_ids = {str(r["id"]) for r in runs_of(world, vm_id)}
    with psycopg.connect(database.owner) as conn:
        events = conn.execute(
            "SELECT actor, action, target_kind, target_name, result, details->>'run_id', tenant_id IS NOT NULL, hash "
            "FROM audit_events WHERE target_id = %s ORDER BY chain_seq", (str(vm_id),)).fetchall()
    assert events, "the reconciler wrote no audit event"
    actor, action, kind, name, result, run_id, has_tenant, digest = events[-1]
    assert (actor, action, kind, name, result) == ("system", "reconcile.create", "VirtualMachine", "audited", SUCCESS)
    assert run_id in run_ids and has_tenant and len(digest) == 64
