"""With the simulator failing 30% of its API requests (503), a VM and a container still converge: the
failures are temporary and retried with backoff (OpenTofu's requests by the worker's gateway, proxmoxer's by
the driver, whole runs by the lease), and the retries show in the run records. A permanent error
(an unknown image) stops, says why, and is not retried until the spec changes. Real PostgreSQL, OpenBao,
OpenTofu + bpg, pvesim."""

from __future__ import annotations

from pathlib import Path

from controlplane.util.net import wait_for
from tests.fixtures.pvesim import SimClient
from tests.integration.reconciler.harness import (
    CT,
    VM,
    condition,
    create_guest,
    guest,
    log_of,
    runs_of,
    update_spec,
    wait_ready,
)


def test_converges_through_30_percent_errors(make_rig, pvesim_factory, tmp_path: Path) -> None:
    sim = pvesim_factory(nodes=2, task_seconds=0, seed=3)
    world = make_rig(sim)  # registration tests the connection, so the faults start after it
    SimClient(sim).data("POST", "/_sim/faults", json={"spec": "error,path=/*,rate=0.3,status=503"})
    ids = [(VM, create_guest(world, VM, "flaky-vm")), (CT, create_guest(world, CT, "flaky-ct"))]
    with world.worker(concurrency=2):
        for kind, guest_id in ids:
            wait_ready(world, kind, guest_id, timeout=100)
    runs = [r for _, guest_id in ids for r in runs_of(world, guest_id)]
    retried = sum(r["summary"].get("proxmox", {}).get("retries", 0) for r in runs)
    assert retried > 0, "30% errors must show as retried requests in the runs"
    assert any("retried after temporary errors" in line["line"] for r in runs for line in log_of(world, r["id"]))
    assert all(r["error"] for r in runs if r["state"] == "failed")
    assert runs[-1]["state"] == "succeeded"
    for kind, guest_id in ids:
        assert guest(world, kind, guest_id)["status"].get("last_error") is None


def test_permanent_error_stops_and_says_why(make_rig, pvesim_factory, tmp_path: Path) -> None:
    sim = pvesim_factory(nodes=1, task_seconds=0)
    world = make_rig(sim)
    ct_id = create_guest(world, CT, "bad-image", image="no-such-image")
    with world.worker(concurrency=1) as worker:
        row = wait_for(lambda: (r := guest(world, CT, ct_id)) and condition(r, "Ready").get("reason") == "Failed"
                       and r, timeout=180, what="the permanent failure to show")
        assert "unknown container image" in condition(row, "Ready")["message"]
        assert row["status"]["stalled_generation"] == 1
        seen = len(worker.resyncs)
        wait_for(lambda: len(worker.resyncs) >= seen + 2, timeout=180, what="two more resyncs")
        assert len(runs_of(world, ct_id)) == 1, "a permanent error must not be retried"
        update_spec(world, CT, ct_id, image="debian-12")
        wait_ready(world, CT, ct_id, generation=2)
    assert [r["state"] for r in runs_of(world, ct_id)] == ["failed", "succeeded"]
