"""Two workers (each with 2 concurrent runs) and 50 objects: all become Ready, placement spreads them, the
run records show that no object was ever worked on by two runs at the same time, and the simulator holds
exactly one guest per object, of the right kind, at the vmid and node its status names. Real PostgreSQL,
OpenBao, OpenTofu + bpg, pvesim."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from pathlib import Path

from tests.integration.reconciler.harness import CT, VM, create_guest, guest, runs_of, wait_ready


def test_no_object_is_applied_twice_at_once(make_rig, pvesim_factory, tmp_path: Path) -> None:
    sim = pvesim_factory(nodes=3, task_seconds=0)
    world = make_rig(sim)
    ids = [(VM if i % 2 else CT, create_guest(world, VM if i % 2 else CT, f"g-{i:02d}", memory_mb=256))
           for i in range(50)]
    with world.worker(concurrency=2) as first, world.worker(concurrency=2) as second:
        for kind, guest_id in ids:
            wait_ready(world, kind, guest_id, timeout=600)
        holders = {first.holder, second.holder}
    runs = runs_of(world)
    assert {r["worker"] for r in runs} == holders, "both workers should have taken work"
    by_target: dict[object, list[dict]] = defaultdict(list)
    for run in runs:
        by_target[run["target_id"]].append(run)
    for target, target_runs in by_target.items():
        ordered = sorted(target_runs, key=lambda r: r["started_at"])
        for before, after in itertools.pairwise(ordered):
            assert before["finished_at"] is not None and before["finished_at"] <= after["started_at"], \
                f"two runs overlapped on {target}: {before['id']} and {after['id']}"
        assert sum(r["action"] == "create" and r["state"] == "succeeded" for r in target_runs) == 1
    statuses = {f"g-{i:02d}": (kind, guest(world, kind, guest_id)["status"]) for i, (kind, guest_id) in enumerate(ids)}
    in_proxmox = [g for g in list(sim.state.guests.values()) if not g.template]
    names = Counter(g.name for g in in_proxmox)
    assert names == Counter(list(statuses)), f"not exactly one guest per object in Proxmox: {names}"
    for seen in in_proxmox:
        kind, status = statuses[seen.name]
        assert (seen.kind, seen.vmid, seen.node) == ("qemu" if kind == VM else "lxc", status["vmid"], status["node"])
    nodes = Counter(status["node"] for _, status in statuses.values())
    assert len(nodes) == 3 and max(nodes.values()) - min(nodes.values()) <= 10, nodes
