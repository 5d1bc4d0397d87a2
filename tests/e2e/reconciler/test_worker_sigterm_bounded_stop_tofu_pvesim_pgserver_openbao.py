"""A worker process (``controlplane worker``) gets SIGTERM while OpenTofu applies a create. With
``--stop-timeout 2`` and a create that cannot stop that fast (the simulator's clone task takes 30 s), the
process exits with status 3 within its bound, its OpenTofu is gone (no state lock is left) and the lease is
handed back at once (not left to expire); with a bound long enough, the run ends cancelled, gives its lease
back and the process exits 0. Either way another worker finishes the guest: exactly one exists. Real
PostgreSQL, OpenBao, OpenTofu + bpg, pvesim; the stopped worker is a real subprocess."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from controlplane.util.net import wait_for
from tests.fixtures.reconciler import worker_env
from tests.integration.reconciler.harness import VM, create_guest, log_of, runs_of, wait_ready

STOP_TIMEOUT = 2.0
LEASE_TTL = 600.0  # far longer than the test: only a hand-back frees the lease in time


def _apply_started(world, guest_id) -> bool:
    runs = runs_of(world, guest_id)
    return bool(runs) and any(
        line["stream"] == "tofu" and json.loads(line["line"]).get("type") == "apply_start"
        for line in log_of(world, runs[0]["id"]))


def _lease(owner_url: str, guest_id) -> tuple | None:
    with psycopg.connect(owner_url) as conn:
        return conn.execute("SELECT holder, expires_at FROM work_leases WHERE object_id = %s",
                            (guest_id,)).fetchone()


def _sigterm_during_apply(make_rig, database, vault_server, toolchain, pvesim_factory, tmp_path: Path,
                          stop_timeout: float, name: str):
    """Start a worker process, SIGTERM it once its OpenTofu applies ``name``; returns (world, sim, guest id,
    exit status, stderr, seconds the stop took)."""
    sim = pvesim_factory(nodes=1, task_seconds=30)
    world = make_rig(sim)
    env = worker_env(database, vault_server, toolchain, tmp_path / "worker-a")
    proc = subprocess.Popen(
        [sys.executable, "-m", "controlplane.cli", "worker", "--concurrency", "1", "--poll-interval", "0.3",
         "--lease-ttl", str(LEASE_TTL), "--resync-interval", "30", "--stop-timeout", str(stop_timeout)],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        vm_id = create_guest(world, VM, name)
        wait_for(lambda: _apply_started(world, vm_id) or proc.poll() is not None, timeout=120,
                 what="the worker to start applying")
        assert proc.poll() is None, f"the worker exited early: {proc.stderr.read() if proc.stderr else ''}"
        held = _lease(database.owner, vm_id)
        assert held is not None and held[0] is not None, held
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=90)
        took = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return world, sim, vm_id, proc.returncode, err, took


def _finished_by_another_worker(world, sim, database, vm_id, name: str) -> None:
    with psycopg.connect(database.owner) as conn:
        wait_for(lambda: conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                                      ).fetchone()[0] == 0, timeout=10, what="the stopped OpenTofu's state lock to go")
    with world.worker(concurrency=1, lease_ttl=30.0):
        row = wait_ready(world, VM, vm_id, timeout=240)
    named = [(g.vmid, g.kind) for g in list(sim.state.guests.values()) if g.name == name]
    assert named == [(row["status"]["vmid"], "qemu")], f"not exactly one guest in Proxmox: {named}"
    assert runs_of(world, vm_id)[-1]["state"] == "succeeded"


def test_sigterm_hands_back_an_unfinished_lease_within_the_bound(make_rig, database, vault_server, toolchain,
                                                                 pvesim_factory, tmp_path: Path) -> None:
    world, sim, vm_id, status, err, took = _sigterm_during_apply(
        make_rig, database, vault_server, toolchain, pvesim_factory, tmp_path, STOP_TIMEOUT, "bounded")
    assert status == 3, err
    assert "leases are handed back" in err
    assert took < STOP_TIMEOUT + 8, f"stopping took {took:.1f}s"
    assert _lease(database.owner, vm_id) == (None, None), "the lease was not handed back"
    _finished_by_another_worker(world, sim, database, vm_id, "bounded")


def test_sigterm_with_time_enough_cancels_the_run_and_gives_its_lease_back(make_rig, database, vault_server,
                                                                          toolchain, pvesim_factory,
                                                                          tmp_path: Path) -> None:
    world, sim, vm_id, status, err, _took = _sigterm_during_apply(
        make_rig, database, vault_server, toolchain, pvesim_factory, tmp_path, 60.0, "cancelled")
    assert status == 0, err
    assert _lease(database.owner, vm_id) == (None, None), "the lease was not given back"
    assert runs_of(world, vm_id)[0]["state"] == "cancelled", runs_of(world, vm_id)[0]
    _finished_by_another_worker(world, sim, database, vm_id, "cancelled")
