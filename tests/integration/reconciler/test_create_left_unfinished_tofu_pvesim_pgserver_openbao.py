"""A create that a crashed run left half done: the guest exists in Proxmox, the run's intent (VMID, node,
``create_pending``) is recorded, and its OpenTofu state is lost. The next run takes a VM over (an import
into the workspace) and removes and creates a container again (OpenTofu cannot import one: its template and
keys are not readable from Proxmox); either way the object ends Ready and Proxmox holds exactly one guest
of its name. Real PostgreSQL, OpenBao, OpenTofu + bpg, pvesim."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from controlplane.reconciler import leases
from controlplane.reconciler.kinds import KINDS, workspace
from controlplane.reconciler.store import system_tx
from controlplane.util.net import wait_for
from tests.integration.reconciler.harness import CT, VM, create_guest, log_of, runs_of, wait_ready

LEFT_BEHIND = {VM: "adopting it into the workspace", CT: "removing it to create it again"}


def _lose_the_state_and_mark_the_create_pending(world, kind: str, guest_id) -> None:
    """What a run killed after Proxmox made the guest and before OpenTofu saved its state leaves."""
    with psycopg.connect(world.owner_url) as conn:
        gone = conn.execute("DELETE FROM terraform_remote_state.states WHERE name = %s",
                            (workspace(KINDS[kind], guest_id),)).rowcount
    assert gone == 1, "the workspace had no state to lose"
    g = KINDS[kind].rows
    with system_tx(world.engine) as conn:
        conn.execute(sa.update(g).where(g.c.id == guest_id).values(
            status=g.c.status.op("-")("applied_digest").op("||")(sa.func.jsonb_build_object("create_pending", True))))
        leases.enqueue(conn, kind, guest_id, world.tenant_id)


@pytest.mark.parametrize("kind", [VM, CT])
def test_the_next_run_finishes_a_create_left_half_done(kind: str, make_rig, pvesim_factory, tmp_path: Path) -> None:
    sim = pvesim_factory(nodes=1, task_seconds=0)
    world = make_rig(sim)
    guest_id = create_guest(world, kind, "half-made")
    with world.worker(concurrency=1):
        first = wait_ready(world, kind, guest_id)
    vmid = first["status"]["vmid"]
    _lose_the_state_and_mark_the_create_pending(world, kind, guest_id)

    with world.worker(concurrency=1):
        wait_for(lambda: len(runs_of(world, guest_id)) == 2 and runs_of(world, guest_id)[-1]["finished_at"],
                 timeout=180, what="the run after the lost state to finish")
        row = wait_ready(world, kind, guest_id)
    last = runs_of(world, guest_id)[-1]
    assert last["state"] == "succeeded", last
    assert any(LEFT_BEHIND[kind] in e["line"] for e in log_of(world, last["id"])), \
        [e["line"] for e in log_of(world, last["id"]) if e["stream"] != "tofu"]
    assert "create_pending" not in row["status"]
    kind_in_proxmox = "qemu" if kind == VM else "lxc"
    named = [(g.vmid, g.kind) for g in list(sim.state.guests.values()) if g.name == "half-made"]
    assert named == [(row["status"]["vmid"], kind_in_proxmox)] == [(vmid, kind_in_proxmox)], named
