"""Benchmark: do ``controlplane worker`` processes on one PostgreSQL scale? N VMs from request to Ready with
one worker process of R concurrent runs (the baseline) and with P processes of R runs each, measured in the
same run; the target is P=2, R=2 at least 1.7x as fast as one process with R=2.

For each layout: a fresh database (cloned from a migrated template) and a fresh simulator, registered as
cluster ``demo`` (token secret in OpenBao); the worker processes are started (each with its own data
directory, so its own plugin cache and run directories) and waited for until each says it runs; then N
VMs are written as the API writes them and the clock runs until every VM is Ready at its generation.
Reported: wall time, VMs per minute, runs and runs not succeeded, the runs each process did, and the ratio
of the baseline's wall time to each layout's.

Real PostgreSQL (pgserver), OpenBao (``bao server -dev``), OpenTofu + bpg/proxmox from ``make tools``,
pvesim on loopback, real ``controlplane worker`` subprocesses. Run:
``.venv/bin/python bench/reconciler_worker_processes.py [--count 40] [--processes 1,2] [--runs 2]
[--nodes 4] [--timeout 1800] [--task-seconds 0]``. With ``--task-seconds 1`` (a Proxmox that takes a second per
create or start, as a real one does) the runs wait on Proxmox instead of the 2 cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from _support import Stack, int_list, stack
from reconciler_create_ready import READY_SQL

from controlplane.pvesim import SimConfig, Simulator
from controlplane.reconciler.store import system_tx
from tests.integration.reconciler.harness import VM, create_guest, new_rig


@dataclass
class Layout:
    """What one layout measured."""

    processes: int
    runs: int
    wall: float
    ready: int
    total_runs: int
    failed_runs: int
    per_worker: list[int]


def _start_worker(stack_: Stack, database: object, directory: Path, runs: int) -> tuple[subprocess.Popen[str],
                                                                                       threading.Event]:
    """One ``controlplane worker`` subprocess, and an event set once it says it runs."""
    env = {**os.environ, "CONTROLPLANE_DATABASE_URL": database.owner,  # type: ignore[attr-defined]
           "CONTROLPLANE_APP_DATABASE_URL": database.app,  # type: ignore[attr-defined]
           "CONTROLPLANE_VAULT_ADDR": stack_.vault.addr, "CONTROLPLANE_VAULT_TOKEN": stack_.vault_token,
           "CONTROLPLANE_TF_BINARY": str(stack_.toolchain.tofu), "CONTROLPLANE_DATA_DIR": str(directory / "data"),
           "CONTROLPLANE_RUN_DIR": str(directory / "runs")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "controlplane.cli", "worker", "--concurrency", str(runs), "--poll-interval", "0.5",
         "--lease-ttl", "60", "--resync-interval", "600"],
        env=env, cwd=directory, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )
    running = threading.Event()

    def read() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            if "concurrent runs" in line:
                running.set()
    threading.Thread(target=read, daemon=True).start()
    return proc, running


def run_layout(stack_: Stack, count: int, processes: int, runs: int, nodes: int, timeout: float,
               task_seconds: float = 0.0) -> Layout:
    """Start ``processes`` workers of ``runs`` runs each on a fresh database and simulator, then time
    ``count`` VMs from request to Ready."""
    sim = Simulator(SimConfig(nodes=nodes, task_seconds=task_seconds, seed=1,
                              ca_dir=str(stack_.directory("ca")))).start()
    database = stack_.database()
    world = new_rig(database, stack_.vault, stack_.toolchain, sim, stack_.directory(f"p{processes}"))
    workers = [_start_worker(stack_, database, stack_.directory(f"w{processes}-{i}"), runs) for i in range(processes)]
    try:
        for proc, running in workers:
            deadline = time.monotonic() + 120
            while not running.wait(0.5):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"a worker process did not start (exit code {proc.poll()})")
        started = time.perf_counter()
        for i in range(count):
            create_guest(world, VM, f"vm-{i:04d}", memory_mb=512)
        ready = 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with system_tx(world.engine) as conn:
                ready, stalled = conn.execute(sa.text(READY_SQL)).one()
            if ready + stalled >= count:
                break
            time.sleep(0.25)
        wall = time.perf_counter() - started
        with system_tx(world.engine) as conn:
            rows = conn.execute(sa.text("SELECT state, worker FROM runs")).all()
        by_worker = Counter(r.worker for r in rows)
        return Layout(processes, runs, wall, ready, len(rows), sum(r.state != "succeeded" for r in rows),
                      sorted(by_worker.values(), reverse=True))
    finally:
        for proc, _ in workers:
            proc.terminate()
        for proc, _ in workers:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        world.engine.dispose()
        sim.stop()


def main() -> None:
    """Parse options, measure each layout, print figures, ratios and a one-line summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=40, help="VMs per layout (default 40)")
    parser.add_argument("--processes", type=int_list, default=[1, 2],
                        help="worker processes, e.g. 1,2 (the first is the baseline)")
    parser.add_argument("--runs", type=int, default=2, help="concurrent runs per process (default 2)")
    parser.add_argument("--nodes", type=int, default=4, help="simulated nodes (default 4)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="bound per layout, s")
    parser.add_argument("--task-seconds", type=float, default=0.0,
                        help="how long each simulated Proxmox task (create, start) takes (default 0: CPU-bound)")
    args = parser.parse_args()
    if args.count < 1 or args.count * 512 > args.nodes * 60_000:
        raise SystemExit("--count must be at least 1 and fit the nodes' memory (512 MiB per VM)")
    with stack("worker-processes") as stack_:
        print(f"worker processes: {args.count} VMs to Ready, {args.runs} concurrent runs per `controlplane worker` "
              f"process, one PostgreSQL; fresh database + simulator per layout; Proxmox tasks take "
              f"{args.task_seconds:g} s; load {_load()}\n")
        layouts = []
        for processes in args.processes:
            layout = run_layout(stack_, args.count, processes, args.runs, args.nodes, args.timeout, args.task_seconds)
            layouts.append(layout)
            print(f"{processes} process(es) x {args.runs} runs: {layout.wall:7.1f} s wall, {layout.ready}/{args.count} "
                  f"Ready, {args.count / layout.wall * 60:6.1f} VMs/min, {layout.total_runs} runs "
                  f"({layout.failed_runs} not succeeded), runs per process {layout.per_worker}; load {_load()}")
        base = layouts[0]
        print(f"\nprocesses x runs   wall s   speed-up vs {base.processes} x {base.runs}")
        for layout in layouts:
            print(f"{layout.processes:>9} x {layout.runs:<5}  {layout.wall:7.1f}   {base.wall / layout.wall:6.2f}x")
        parts = ", ".join(f"{lv.processes}x{lv.runs} {lv.wall:.1f}s ({base.wall / lv.wall:.2f}x)" for lv in layouts)
        print(f"SUMMARY worker processes, {args.count} VMs to Ready: {parts}; load {_load()}")


def _load() -> str:
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


if __name__ == "__main__":
    main()
