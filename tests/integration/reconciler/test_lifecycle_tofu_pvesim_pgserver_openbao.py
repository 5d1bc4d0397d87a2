"""Life cycle of a VirtualMachine and a Container through the worker: create → Ready; cores and memory
changed in place (same VMID, plan says update); stop, start, reboot and shutdown through actions (power
through proxmoxer, each carried out as that action on Proxmox);
delete → destroyed, workspace dropped, row gone. Real PostgreSQL, OpenBao, OpenTofu + bpg, pvesim."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlplane.util.net import wait_for
from tests.integration.reconciler.harness import (
    CT,
    VM,
    act,
    create_guest,
    guest,
    proxmox,
    request_delete,
    runs_of,
    update_spec,
    wait_ready,
    workspaces,
)


@pytest.mark.parametrize(("kind", "api"), [(VM, "qemu"), (CT, "lxc")])
def test_create_resize_power_delete(make_rig, pvesim_factory, tmp_path: Path,
                                    kind: str, api: str) -> None:
    sim = pvesim_factory(nodes=2, task_seconds=0)
    world = make_rig(sim)
    px = proxmox(sim)
    guest_id = create_guest(world, kind, "app-1")
    with world.worker(concurrency=1):
        row = wait_ready(world, kind, guest_id)
        vmid, node = row["status"]["vmid"], row["status"]["node"]
        assert row["status"]["ipv4"], row["status"]
        handle = getattr(px.nodes(node), api)(vmid)

        update_spec(world, kind, guest_id, cores=2, memory_mb=1024)
        row = wait_ready(world, kind, guest_id, generation=2)
        assert (row["status"]["vmid"], row["status"]["node"]) == (vmid, node), "the guest was recreated"
        config = handle.config.get()
        assert (int(config["cores"]), int(config["memory"])) == (2, 1024)
        last = runs_of(world, guest_id)[-1]
        assert last["action"] == "update", last
        assert last["summary"]["plan"]["counts"] == {"create": 0, "update": 1, "replace": 0, "delete": 0, "no_op": 0}

        act(world, kind, guest_id, "stop")
        row = wait_ready(world, kind, guest_id, generation=3)
        assert handle.status.current.get()["status"] == "stopped" and row["status"]["power"] == "stopped"
        act(world, kind, guest_id, "start")
        wait_ready(world, kind, guest_id, generation=4)
        assert handle.status.current.get()["status"] == "running"
        assert wait_for(lambda: not _pending_actions(world, guest_id), timeout=120, what="actions handled")

        # reboot and shutdown are carried out as such on Proxmox (not as stop and start)
        actions = f"/nodes/{{node}}/{api}/{{vmid}}/status/"
        booted = sim.state.guests[vmid].started_at
        sim.stats.reset()
        act(world, kind, guest_id, "reboot")
        wait_for(lambda: not _pending_actions(world, guest_id), timeout=120, what="the reboot handled")
        assert sim.stats.count("POST", actions + "reboot") == 1, sim.stats.snapshot()
        assert sim.state.guests[vmid].status == "running" and sim.state.guests[vmid].started_at != booted
        act(world, kind, guest_id, "shutdown")
        row = wait_ready(world, kind, guest_id, generation=5)
        assert sim.stats.count("POST", actions + "shutdown") == 1 and sim.stats.count("POST", actions + "stop") == 0
        assert sim.state.guests[vmid].status == "stopped" and row["status"]["power"] == "stopped"

        assert f"{api}-{guest_id}" in workspaces(world)
        request_delete(world, kind, guest_id)
        wait_for(lambda: guest(world, kind, guest_id) is None, timeout=120, what="the row to be removed")
    assert vmid not in [g["vmid"] for g in px.cluster.resources.get(type="vm")]
    assert f"{api}-{guest_id}" not in workspaces(world), "the workspace state was not dropped"
    runs = runs_of(world, guest_id)
    assert runs[-1]["action"] == "delete" and runs[-1]["state"] == "succeeded"
    assert all(r["state"] == "succeeded" for r in runs), [(r["action"], r["state"], r["error"]) for r in runs]


def _pending_actions(world, guest_id) -> list:
    import sqlalchemy as sa

    from controlplane.reconciler.store import system_tx

    with system_tx(world.engine) as conn:
        return conn.execute(sa.text("SELECT id FROM guest_actions WHERE target_id = :id AND state = 'pending'"),
                            {"id": guest_id}).all()
