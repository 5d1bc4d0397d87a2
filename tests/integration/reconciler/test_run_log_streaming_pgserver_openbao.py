"""A run's log is streamed: a line reaches the database within moments even when no other line follows it
(an OpenTofu apply waiting on a long Proxmox task prints nothing for a while), and a burst is written in
order without losing or repeating a line. Real PostgreSQL (pgserver)."""

from __future__ import annotations

from pathlib import Path

from controlplane.reconciler import store
from controlplane.reconciler.kinds import KINDS
from controlplane.reconciler.runlog import FLUSH_LINES, RunRecorder
from controlplane.reconciler.store import system_tx
from controlplane.util.net import wait_for
from tests.integration.reconciler.harness import VM, create_guest, log_of


def test_a_lone_line_is_written_without_waiting_for_the_next(make_rig, pvesim_factory, tmp_path: Path) -> None:
    world = make_rig(pvesim_factory(nodes=1))
    guest_id = create_guest(world, VM, "streamed")
    with system_tx(world.engine) as conn:
        obj = store.load(conn, KINDS[VM], guest_id)
    assert obj is not None
    run = RunRecorder(world.engine, obj, action="create", attempt=1, worker="test")
    run.log("init")
    run.log("apply_start, then nothing while Proxmox works")
    wait_for(lambda: len(log_of(world, run.id)) == 2, timeout=30, interval=0.1,
             what="the lone second line to be written without a later line")

    burst = [f"line {i}" for i in range(FLUSH_LINES * 3 + 7)]
    for line in burst:
        run.log(line)
    run.finish("succeeded")
    lines = [e["line"] for e in log_of(world, run.id)]
    assert lines[2:] == burst, lines[:5]
    assert [e["seq"] for e in log_of(world, run.id)] == list(range(1, len(burst) + 3))
