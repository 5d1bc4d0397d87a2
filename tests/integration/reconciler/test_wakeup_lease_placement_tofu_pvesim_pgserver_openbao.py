"""What the README promises of the worker: PostgreSQL NOTIFY wakes it (a spec change is picked up long
before a 60 s poll would see it); its lease is renewed while a run lasts, so a run that outlives the lease's
TTL is not taken over by a competing worker; and the placement labels (``controlplane/placement: pack``,
``controlplane/anti-affinity``) decide the nodes Proxmox ends up holding the guests on.
Real PostgreSQL, OpenBao, OpenTofu + bpg, pvesim."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from controlplane.util.net import wait_for
from tests.integration.reconciler.harness import CT, VM, create_guest, runs_of, update_spec, wait_ready

POLL = 60.0  # far longer than the test waits: whatever is picked up sooner was woken by NOTIFY
WOKEN_WITHIN = 20.0


def test_notify_wakes_a_worker_that_polls_every_minute(make_rig, pvesim_factory,
                                                        tmp_path: Path) -> None:
    sim = pvesim_factory(nodes=1, task_seconds=0)
    world = make_rig(sim)
    vm_id = create_guest(world, VM, "woken-1")
    with world.worker(concurrency=1, poll_interval=POLL, resync_interval=POLL) as worker:
        wait_ready(world, VM, vm_id)  # found by the worker's first look for work
        wait_for(lambda: worker.busy == 0 and all(r["finished_at"] for r in runs_of(world, vm_id)), timeout=60,
                 what="the worker to be idle")
        update_spec(world, VM, vm_id, cores=2)
        wait_for(lambda: len(runs_of(world, vm_id)) == 2, timeout=WOKEN_WITHIN,
                 what=f"the spec change to be picked up (poll interval {POLL:.0f}s)")
        wait_ready(world, VM, vm_id, generation=2)
    assert sim.state.guests[wait_ready(world, VM, vm_id)["status"]["vmid"]].config["cores"] == 2


def test_a_run_longer_than_the_lease_ttl_is_not_taken_over(make_rig, pvesim_factory,
                                                            tmp_path: Path) -> None:
    sim = pvesim_factory(nodes=1, task_seconds=6)  # every Proxmox task of the run takes 6 s
    world = make_rig(sim)
    with world.worker(concurrency=1, lease_ttl=2.0) as first, world.worker(concurrency=1, lease_ttl=2.0) as second:
        ct_id = create_guest(world, CT, "long-1")
        row = wait_ready(world, CT, ct_id, timeout=300)
        holders = {first.holder, second.holder}
    runs = runs_of(world, ct_id)
    assert [(r["action"], r["state"]) for r in runs] == [("create", "succeeded")], runs
    assert runs[0]["worker"] in holders
    assert (runs[0]["finished_at"] - runs[0]["started_at"]).total_seconds() > 2.0, "the run did not outlive the TTL"
    assert [g.vmid for g in list(sim.state.guests.values()) if g.name == "long-1"] == [row["status"]["vmid"]]


def test_pack_and_anti_affinity_labels_decide_the_nodes(make_rig, pvesim_factory,
                                                        tmp_path: Path) -> None:
    sim = pvesim_factory(nodes=3, task_seconds=0)
    world = make_rig(sim)
    packed = [create_guest(world, CT, f"pack-{i}", labels={"controlplane/placement": "pack"}, memory_mb=256)
              for i in range(3)]
    apart = [create_guest(world, CT, f"db-{i}", memory_mb=256,
                          labels={"controlplane/placement": "pack", "controlplane/anti-affinity": "app", "app": "db"})
             for i in range(3)]
    with world.worker(concurrency=1):
        statuses = {guest_id: wait_ready(world, CT, guest_id, timeout=300)["status"] for guest_id in packed + apart}
    nodes = {g.name: g.node for g in list(sim.state.guests.values())}
    assert Counter(nodes[f"pack-{i}"] for i in range(3)).most_common(1)[0][1] == 3, nodes
    assert len({nodes[f"db-{i}"] for i in range(3)}) == 3, nodes
    assert all(statuses[g]["placement"]["policy"] == "pack" for g in packed + apart)
    assert {nodes[f"pack-{i}"] for i in range(3)} == {statuses[g]["node"] for g in packed}
