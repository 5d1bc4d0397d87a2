"""Converged guests start no OpenTofu process: a worker's resyncs of 1,000 converged guests start none, and
runs of guests whose spec, modules and observed state are as their last apply left them (made due again,
or given a spec change that OpenTofu does not see) start none either; a resize does start plan and apply.
Counted with the Terraform driver's process counter. Real PostgreSQL, OpenBao, OpenTofu + bpg, pvesim."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from controlplane.drivers.terraform import started_processes
from controlplane.reconciler import leases
from controlplane.reconciler.store import system_tx
from controlplane.util.net import wait_for
from tests.integration.reconciler.harness import (
    VM,
    create_guest,
    guest,
    log_of,
    runs_of,
    update_spec,
    wait_ready,
)
from tests.integration.reconciler.test_resync_writes_only_changes_pvesim_pgserver_openbao import (
    _cluster_observation,
    _seed,
)


def _started_since(before: dict[str, int]) -> dict[str, int]:
    now = started_processes()
    return {command: n - before.get(command, 0) for command, n in now.items() if n > before.get(command, 0)}


def _leases(world) -> int:  # type: ignore[no-untyped-def]
    with system_tx(world.engine) as conn:
        return conn.execute(sa.text("SELECT count(*) FROM work_leases WHERE object_kind = :k"), {"k": VM}).scalar_one()


@pytest.mark.slow
def test_resyncs_of_a_thousand_converged_guests_start_no_tofu(make_rig, pvesim_factory, tmp_path: Path) -> None:
    sim = pvesim_factory(nodes=4, guests=1400, task_seconds=0, seed=5)  # about 70 % are VMs
    world = make_rig(sim)
    try:
        ids = _seed(world, sim)
        assert len(ids) >= 1000, len(ids)
        before = started_processes()
        with world.worker(resync_interval=0.5):
            first = wait_for(lambda: _cluster_observation(world)[1], timeout=120, what="a first resync")
            wait_for(lambda: (_cluster_observation(world)[1] or "") > first, timeout=120, what="a second resync")
        assert _started_since(before) == {}, "a resync of converged guests started OpenTofu"
        assert _leases(world) == 0 and not runs_of(world), "a converged guest was made due"
    finally:
        world.engine.dispose()


def test_runs_without_a_change_start_no_tofu_and_a_resize_does(make_rig, pvesim_factory, tmp_path: Path) -> None:
    sim = pvesim_factory(nodes=1, task_seconds=0)
    world = make_rig(sim)
    try:
        first, second = create_guest(world, VM, "same-1"), create_guest(world, VM, "same-2")
        with world.worker():
            for gid in (first, second):
                wait_ready(world, VM, gid)
            assert guest(world, VM, first)["status"]["applied_digest"].startswith("sha256:")

            before = started_processes()
            with system_tx(world.engine) as conn:
                leases.enqueue(conn, VM, first, world.tenant_id)  # due again with nothing to change
            update_spec(world, VM, second, drift_policy="report")  # a new generation OpenTofu does not see
            wait_for(lambda: len(runs_of(world, first)) == 2 and _leases(world) == 0, timeout=120,
                     what="the re-run to finish")
            wait_ready(world, VM, second, generation=2)
            assert _started_since(before) == {}, "a run with nothing to change started OpenTofu"
            last = runs_of(world, first)[-1]
            assert last["state"] == "succeeded", last
            assert any("OpenTofu not run" in e["line"] for e in log_of(world, last["id"]))
            assert last["summary"]["plan"]["skipped"] is True, last["summary"]  # the run still records its plan
            assert set(last["summary"]["plan"]["counts"].values()) == {0}, last["summary"]

            before = started_processes()
            update_spec(world, VM, first, cores=2)
            wait_ready(world, VM, first, generation=2)
            assert _started_since(before) == {"plan": 1, "apply": 1}
            assert sim.state.guests[guest(world, VM, first)["status"]["vmid"]].cpus == 2
    finally:
        world.engine.dispose()
