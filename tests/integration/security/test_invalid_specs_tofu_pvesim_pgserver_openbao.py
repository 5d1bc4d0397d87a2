"""Specs that cannot work fail for good with the real reason instead of retrying for ever as temporary:
a container template the cluster does not have (the simulator's "volume ... does not exist"), a disk on a
storage the node does not have, and memory below the provider's 64 MiB minimum (a spec written before the
API refused it). Each stops at Ready=False reason Failed with the reason in ``status.last_error``, after
few runs. Real PostgreSQL, OpenBao, OpenTofu + bpg, pvesim."""

from __future__ import annotations

from pathlib import Path

from controlplane.util.net import wait_for
from tests.integration.reconciler.harness import CT, VM, condition, create_guest, guest, runs_of


def test_invalid_specs_fail_permanently_with_the_reason(make_rig, pvesim_factory,
                                                        tmp_path: Path) -> None:
    sim = pvesim_factory(nodes=1, task_seconds=0)
    world = make_rig(sim)
    cases = {
        "no-template": (CT, {"image": "local:vztmpl/no-such-template.tar.zst"}, "does not exist"),
        "no-storage": (VM, {"node": "pve1", "disks": [{"size_gb": 4, "storage": "no-such-storage"}]},
                       "no-such-storage"),
        "tiny-memory": (VM, {"memory_mb": 16}, "memory"),
    }
    ids = {name: (kind, create_guest(world, kind, name, **spec), reason)
           for name, (kind, spec, reason) in cases.items()}
    with world.worker(concurrency=3):
        for name, (kind, guest_id, reason) in ids.items():
            row = wait_for(lambda k=kind, g=guest_id: (lambda r: r if condition(r, "Ready").get("reason") == "Failed"
                                                       else None)(guest(world, k, g)),
                           timeout=120, interval=0.3, what=f"{name} to fail permanently")
            error = row["status"]["last_error"]
            assert reason in error.lower() or reason in error, (name, error)
            assert "HTTP 500" not in error or "does not exist" in error, (name, error)
    for name, (_, guest_id, _) in ids.items():
        runs = runs_of(world, guest_id)
        assert 1 <= len(runs) <= 2, (name, [(r["state"], (r["error"] or "")[:200]) for r in runs])
    assert not any(world.terraform.run_root.iterdir()), "failed runs left their directories"
