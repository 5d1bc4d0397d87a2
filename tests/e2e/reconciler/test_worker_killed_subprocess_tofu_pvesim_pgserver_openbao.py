"""A worker process (``controlplane worker``) is killed with SIGKILL while OpenTofu applies a create;
another worker takes the expired lease over and finishes: exactly one guest exists, the dead worker's run
is closed as failed, and no state lock is left. Real PostgreSQL, OpenBao, OpenTofu + bpg, pvesim; the
killed worker is a real subprocess."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import psycopg

from controlplane.util.net import wait_for
from tests.fixtures.reconciler import worker_env
from tests.integration.reconciler.harness import (
    VM,
    create_guest,
    log_of,
    runs_of,
    wait_ready,
)


def _apply_started(world, guest_id) -> bool:
    runs = runs_of(world, guest_id)
    return bool(runs) and any(
        line["stream"] == "tofu" and json.loads(line["line"]).get("type") == "apply_start"
        for line in log_of(world, runs[0]["id"]))


def test_killed_during_apply_is_finished_by_another_worker(make_rig, database, vault_server, toolchain,
                                                            pvesim_factory, tmp_path: Path) -> None:
    sim = pvesim_factory(nodes=1, task_seconds=4)
    world = make_rig(sim)
    env = worker_env(database, vault_server, toolchain, tmp_path / "worker-a")
    proc = subprocess.Popen(
        [sys.executable, "-m", "controlplane.cli", "worker", "--concurrency", "1", "--poll-interval", "0.3",
         "--lease-ttl", "3", "--resync-interval", "30"],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        vm_id = create_guest(world, VM, "survivor")
        wait_for(lambda: _apply_started(world, vm_id) or proc.poll() is not None, timeout=120,
                 what="worker A to start applying")
        assert proc.poll() is None, f"worker A exited early: {proc.stderr.read() if proc.stderr else ''}"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with world.worker(concurrency=1, lease_ttl=3.0):
        row = wait_ready(world, VM, vm_id, timeout=180)
    named = [(g.vmid, g.kind) for g in list(sim.state.guests.values()) if g.name == "survivor"]
    assert named == [(row["status"]["vmid"], "qemu")], f"not exactly one guest in Proxmox: {named}"
    runs = runs_of(world, vm_id)
    assert runs[0]["state"] == "failed" and "worker lost" in runs[0]["error"], runs[0]
    assert runs[-1]["state"] == "succeeded"
    assert len({r["worker"] for r in runs}) == 2
    with psycopg.connect(database.owner) as conn:
        held = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted").fetchone()[0]
    assert held == 0, "a state lock is still held"
