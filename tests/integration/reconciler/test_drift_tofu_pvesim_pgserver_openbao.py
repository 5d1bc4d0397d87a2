"""Drift made behind the control plane's back, found by one /cluster/resources call per resync: a guest
deleted out of band is recreated (policy correct); a guest stopped out of band under policy report is shown
as Drifted and left alone; a guest resized out of band is resized back. Real PostgreSQL, OpenBao,
OpenTofu + bpg, pvesim."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlplane.util.net import wait_for
from tests.integration.reconciler.harness import (
    VM,
    condition,
    create_guest,
    guest,
    proxmox,
    runs_of,
    wait_ready,
)


def test_deleted_out_of_band_is_recreated(make_rig, pvesim_factory, tmp_path: Path) -> None:
    sim = pvesim_factory(nodes=1, task_seconds=0)
    world = make_rig(sim)
    vm_id = create_guest(world, VM, "keep-1")
    with world.worker(concurrency=1) as worker:
        vmid = wait_ready(world, VM, vm_id)["status"]["vmid"]
        sim.state.delete_guest(vmid)
        drifted = wait_for(lambda: (r := guest(world, VM, vm_id)) and condition(r, "Drifted").get("status") == "True"
                           and r, timeout=180, what="drift to be detected")
        assert condition(drifted, "Drifted")["reason"] == "GuestMissing"
        wait_for(lambda: condition(guest(world, VM, vm_id), "Drifted").get("status") == "False"
                 and condition(guest(world, VM, vm_id), "Ready").get("status") == "True", timeout=120,
                 what="the guest to be recreated")
        assert worker.resyncs and all(r.api_calls == 1 for r in worker.resyncs)
        assert proxmox(sim).nodes("pve1").qemu(vmid).status.current.get()["status"] == "running"
        assert [r["action"] for r in runs_of(world, vm_id)] == ["create", "create"]

        # Stopped out of band under the default policy (correct): started again.
        sim.state.stop_guest(vmid)
        wait_for(lambda: sim.state.guests[vmid].status == "running", timeout=120,
                 what="the guest stopped out of band to be started again")
        wait_ready(world, VM, vm_id)
    assert condition(guest(world, VM, vm_id), "Drifted")["status"] == "False"


@pytest.mark.parametrize(("labels", "spec"), [({"controlplane/drift": "report"}, {}), ({}, {"drift_policy": "report"})],
                         ids=["label", "spec"])
def test_report_policy_only_reports(make_rig, pvesim_factory, tmp_path: Path,
                                    labels: dict, spec: dict) -> None:
    sim = pvesim_factory(nodes=1, task_seconds=0)
    world = make_rig(sim)
    vm_id = create_guest(world, VM, "watch-1", labels=labels, **spec)
    with world.worker(concurrency=1) as worker:
        vmid = wait_ready(world, VM, vm_id)["status"]["vmid"]
        sim.state.stop_guest(vmid)
        row = wait_for(lambda: (r := guest(world, VM, vm_id)) and condition(r, "Drifted").get("status") == "True"
                       and r, timeout=180, what="drift to be reported")
        assert condition(row, "Drifted")["reason"] == "PowerDrift"
        assert condition(row, "Ready") == {**condition(row, "Ready"), "status": "False", "reason": "Drifted"}
        assert row["status"]["power"] == "stopped" and row["status"]["drift"]["policy"] == "report"
        # Idle now: each resync costs the cluster exactly one /cluster/resources call, counted by Proxmox itself.
        seen = len(worker.resyncs)
        sim.stats.reset()
        wait_for(lambda: len(worker.resyncs) >= seen + 3, timeout=180, what="three more resyncs")
        calls, resyncs = sim.stats.snapshot(), len(worker.resyncs) - seen
    assert set(calls) == {("GET", "/cluster/resources")}, calls
    # a resync may straddle either end of the window: its call counted and it not, or the other way round
    assert resyncs - 1 <= calls[("GET", "/cluster/resources")] <= resyncs + 1, (calls, resyncs)
    assert sim.state.guests[vmid].status == "stopped"
    assert len(runs_of(world, vm_id)) == 1, "report-only drift must not start a run"


def test_resized_out_of_band_is_resized_back(make_rig, pvesim_factory, tmp_path: Path) -> None:
    sim = pvesim_factory(nodes=1, task_seconds=0)
    world = make_rig(sim)
    vm_id = create_guest(world, VM, "size-1", cores=1, memory_mb=512)
    with world.worker(concurrency=1):
        vmid = wait_ready(world, VM, vm_id)["status"]["vmid"]
        sim.state.set_config(vmid, {"cores": 3, "memory": "2048"})
        wait_for(lambda: len(runs_of(world, vm_id)) >= 2 and runs_of(world, vm_id)[-1]["state"] == "succeeded",
                 timeout=180, what="a correcting run")
        wait_ready(world, VM, vm_id)
    config = proxmox(sim).nodes("pve1").qemu(vmid).config.get()
    assert (int(config["cores"]), int(config["memory"])) == (1, 512)
    assert runs_of(world, vm_id)[-1]["action"] == "update"
