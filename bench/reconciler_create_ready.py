"""Benchmark: N VMs from request to Ready through the reconciler, with 1, 2 and 4 concurrent runs, against
one OpenTofu apply of all N in a single workspace (the baseline), measured in the same run.

For each concurrency level: a fresh database (cloned from a migrated template) and a fresh simulator; the
simulator registered as cluster ``demo`` (token secret in OpenBao), N VMs written as the API writes them
(spec, finalizer, generation 1), then one in-process worker is started and the clock runs until every VM is
Ready at its generation (bounded by ``--timeout``); then every VM is made due again and timed until all
leases are gone (nothing changed: our own work only, and the OpenTofu processes it starts are counted).
Reported: wall time, VMs per minute, the sum and median of the init/plan/apply/output phases from the run
summaries, the Proxmox requests the simulator served, and the re-run's seconds per VM.

Baseline: one root module calling our ``proxmox-vm`` module N times with exactly the variables the
reconciler renders (``translate.module_variables``), state in the same PostgreSQL through the pg backend,
``tofu init``, ``tofu plan -out``, ``tofu apply <plan>`` (default parallelism 10), on a fresh simulator.

Real PostgreSQL (pgserver), OpenBao (``bao server -dev``), OpenTofu + bpg/proxmox from ``make tools``,
pvesim on loopback. Run: ``.venv/bin/python bench/reconciler_create_ready.py [--count 100]
[--concurrency 1,2,4] [--nodes 4] [--task-seconds 0] [--timeout 3600]``.
"""

from __future__ import annotations

import argparse
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests
import sqlalchemy as sa
from _support import Stack, breakdown, int_list, median, provider_env, stack, tofu, write_root

from controlplane.drivers.terraform import started_processes
from controlplane.drivers.terraform_render import MODULES_DIR, PROVIDER_VERSION
from controlplane.pvesim import SimConfig, Simulator
from controlplane.reconciler.kinds import VM as VM_KIND
from controlplane.reconciler.runtime import backend_url
from controlplane.reconciler.store import ManagedObject, system_tx
from controlplane.reconciler.translate import module_variables
from tests.integration.reconciler.harness import VM, create_guest, new_rig, spec_of

PHASES = ("init", "plan", "apply", "output")
READY_SQL = """
SELECT count(*) FILTER (WHERE observed_generation >= generation
                          AND conditions @> '[{"type": "Ready", "status": "True"}]'::jsonb),
       count(*) FILTER (WHERE status ? 'stalled_generation')
FROM virtual_machines
"""


@dataclass
class Level:
    """What one concurrency level measured."""

    concurrency: int
    wall: float
    ready: int
    runs: int
    failed_runs: int
    phase_sum: dict[str, float] = field(default_factory=dict)
    phase_median: dict[str, float] = field(default_factory=dict)
    requests: int = 0
    routes: str = ""
    run_sum: float = 0.0
    run_median: float = 0.0
    errors: list[str] = field(default_factory=list)
    rerun_wall: float = 0.0
    rerun_tofu: dict[str, int] = field(default_factory=dict)


def _simulator(stack_: Stack, nodes: int, task_seconds: float) -> Simulator:
    return Simulator(SimConfig(nodes=nodes, task_seconds=task_seconds, seed=1,
                               ca_dir=str(stack_.directory("ca")))).start()


def run_level(stack_: Stack, count: int, concurrency: int, nodes: int, task_seconds: float,
              timeout: float) -> Level:
    """Seed ``count`` VMs on a fresh database and simulator, run one worker until all are Ready."""
    sim = _simulator(stack_, nodes, task_seconds)
    world = new_rig(stack_.database(), stack_.vault, stack_.toolchain, sim, stack_.directory(f"c{concurrency}"))
    try:
        for i in range(count):
            create_guest(world, VM, f"vm-{i:04d}", memory_mb=512)
        sim.stats.reset()
        started = time.perf_counter()
        ready = stalled = 0
        deadline = time.monotonic() + timeout
        with world.worker(concurrency=concurrency, poll_interval=0.5, resync_interval=60.0, lease_ttl=60.0):
            while time.monotonic() < deadline:
                with system_tx(world.engine) as conn:
                    ready, stalled = conn.execute(sa.text(READY_SQL)).one()
                if ready + stalled >= count:
                    break
                time.sleep(0.25)
            wall = time.perf_counter() - started
            rerun_wall, rerun_tofu = _rerun_converged(world, count, deadline)
        counts = sim.stats.snapshot()
        with system_tx(world.engine) as conn:
            runs = conn.execute(sa.text(
                "SELECT state, summary, error, extract(epoch FROM finished_at - started_at) AS seconds FROM runs"
            )).all()
        if ready < count:
            print(f"  !! concurrency {concurrency}: only {ready} of {count} Ready after {wall:.0f}s "
                  f"({stalled} failed permanently)")
        timings: dict[str, list[float]] = {p: [] for p in PHASES}
        for run in runs:
            for phase, seconds in ((run.summary or {}).get("timings") or {}).items():
                timings.setdefault(phase, []).append(float(seconds))
        return Level(
            concurrency=concurrency, wall=wall, ready=ready, runs=len(runs),
            failed_runs=sum(r.state != "succeeded" for r in runs),
            phase_sum={p: sum(v) for p, v in timings.items()}, phase_median={p: median(v) for p, v in timings.items()},
            requests=sum(counts.values()), routes=breakdown(counts, 5),
            run_sum=sum(float(r.seconds or 0) for r in runs),
            run_median=median([float(r.seconds or 0) for r in runs]),
            errors=[f"{r.state}: {(r.error or '')[:600]}" for r in runs if r.state != "succeeded"],
            rerun_wall=rerun_wall, rerun_tofu=rerun_tofu,
        )
    finally:
        world.engine.dispose()
        sim.stop()


def _rerun_converged(world: Any, count: int, deadline: float) -> tuple[float, dict[str, int]]:
    """Make every (converged) VM due again and time until no lease is left: each run does all of our own
    work (lease, run record and log, credentials, one status read, the status write) and, as nothing
    changed, no OpenTofu; returns the wall time and the OpenTofu processes started meanwhile."""
    before = started_processes()
    started = time.perf_counter()
    with system_tx(world.engine) as conn:
        conn.execute(sa.text("INSERT INTO work_leases (object_kind, object_id, tenant_id) "
                             "SELECT 'VirtualMachine', id, tenant_id FROM virtual_machines ON CONFLICT DO NOTHING"))
    while time.monotonic() < deadline:
        with system_tx(world.engine) as conn:
            left = conn.execute(sa.text("SELECT count(*) FROM work_leases WHERE object_kind = 'VirtualMachine'"
                                        )).scalar_one()
        if not left:
            break
        time.sleep(0.1)
    after = started_processes()
    return time.perf_counter() - started, {k: n - before.get(k, 0) for k, n in after.items() if n > before.get(k, 0)}


def baseline_document(count: int, nodes: int) -> dict[str, Any]:
    """One root module: ``count`` calls of our proxmox-vm module, variables as the reconciler renders them."""
    modules: dict[str, Any] = {}
    for i in range(count):
        obj = ManagedObject(kind=VM_KIND, id=uuid.uuid4(), tenant_id=uuid.uuid4(), project_id=uuid.uuid4(),
                            cluster_id=None, name=f"vm-{i:04d}", labels={}, spec=spec_of(VM, memory_mb=512),
                            status={}, conditions=[], generation=1, observed_generation=0, finalizers=[],
                            deleted_at=None)
        variables = module_variables(obj, 100 + i, f"pve{i % nodes + 1}")
        modules[f"vm_{i:04d}"] = {"source": str(MODULES_DIR / "proxmox-vm"), **variables}
    return {
        "terraform": {"required_providers": {"proxmox": {"source": "bpg/proxmox", "version": PROVIDER_VERSION}},
                      "backend": {"pg": {}}},
        "provider": {"proxmox": {}},
        "module": modules,
    }


def run_baseline(stack_: Stack, count: int, nodes: int, task_seconds: float, timeout: float
                 ) -> tuple[dict[str, float], int, str]:
    """init / plan / apply of all ``count`` VMs in one workspace; (seconds per phase, requests, routes)."""
    sim = _simulator(stack_, nodes, task_seconds)
    try:
        workdir = stack_.directory("baseline")
        write_root(workdir, baseline_document(count, nodes))
        env = provider_env(stack_.toolchain, sim, PG_CONN_STR=backend_url(stack_.empty_database().owner))
        sim.stats.reset()
        phases = {
            "init": tofu(stack_.toolchain, workdir, "init", "-input=false", "-no-color",
                         "-backend-config=schema_name=terraform_remote_state", env=env, timeout=timeout)[0],
            "plan": tofu(stack_.toolchain, workdir, "plan", "-input=false", "-no-color", "-out=plan.tfplan",
                         env=env, timeout=timeout)[0],
        }
        phases["apply"] = tofu(stack_.toolchain, workdir, "apply", "-input=false", "-no-color", "plan.tfplan",
                               env=env, timeout=timeout)[0]
        counts = sim.stats.snapshot()
        made = len(requests.get(sim.api_url + "/cluster/resources?type=vm", headers={"Authorization": sim.auth_header},
                                verify=sim.ca_file, timeout=60).json()["data"])
        if made != count:
            raise SystemExit(f"the baseline apply made {made} VMs, not {count}")
        return phases, sum(counts.values()), breakdown(counts, 5)
    finally:
        sim.stop()


def main() -> None:
    """Parse options, measure every level and the baseline, print figures and a one-line summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100, help="VMs per run (default 100)")
    parser.add_argument("--concurrency", type=int_list, default=[1, 2, 4], help="levels, e.g. 1,2,4")
    parser.add_argument("--nodes", type=int, default=4, help="simulated nodes (default 4)")
    parser.add_argument("--task-seconds", type=float, default=0.0, help="simulated task duration (default 0)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="bound per level and per tofu command, s")
    args = parser.parse_args()
    if args.count < 1 or args.count * 512 > args.nodes * 60_000:
        raise SystemExit("--count must be at least 1 and fit the nodes' memory (512 MiB per VM)")

    with stack("create-ready") as stack_:
        print(f"reconciler create→Ready: {args.count} VMs (1 core, 512 MiB, 4 GiB disk) on {args.nodes} simulated "
              f"nodes, task time {args.task_seconds:g}s; one in-process worker per level, fresh database + "
              f"simulator each\n")
        warm = stack_.directory("warm-up")
        write_root(warm, {"terraform": {"required_providers": {"proxmox": {"source": "bpg/proxmox",
                                                                          "version": PROVIDER_VERSION}}}})
        tofu(stack_.toolchain, warm, "init", "-input=false", "-no-color", env=stack_.toolchain.env(),
             timeout=args.timeout)  # fills the plugin cache, so no level pays for it
        levels = []
        for concurrency in args.concurrency:
            level = run_level(stack_, args.count, concurrency, args.nodes, args.task_seconds, args.timeout)
            levels.append(level)
            print(f"concurrency {concurrency}: {level.wall:8.1f} s wall, {level.ready}/{args.count} Ready, "
                  f"{args.count / level.wall * 60:6.1f} VMs/min, {level.runs} runs ({level.failed_runs} not "
                  f"succeeded), {level.requests} Proxmox requests ({level.requests / args.count:.1f}/VM)")
            print("   phase   sum s    median s/run   share of summed phases")
            total = sum(level.phase_sum.get(p, 0.0) for p in PHASES) or 1.0
            for phase in PHASES:
                print(f"   {phase:<7}{level.phase_sum.get(phase, 0.0):8.1f}   {level.phase_median.get(phase, 0.0):8.2f}"
                      f"        {level.phase_sum.get(phase, 0.0) / total * 100:5.1f} %")
            outside = level.run_sum - sum(level.phase_sum.get(p, 0.0) for p in PHASES)
            print(f"   runs: {level.run_sum:.1f} s summed, median {level.run_median:.2f} s; outside OpenTofu "
                  f"(intent, placement, power, status writes): {outside:.1f} s summed; wall not covered by runs "
                  f"(scheduling, polling): {max(0.0, level.wall - level.run_sum / concurrency):.1f} s")
            print(f"   busiest routes: {level.routes}")
            print(f"   all {args.count} converged VMs made due again: {level.rerun_wall:.1f} s wall, "
                  f"{level.rerun_wall * level.concurrency / args.count:.3f} s of run per VM (our own work only), "
                  f"OpenTofu processes started: {sum(level.rerun_tofu.values())} {level.rerun_tofu or ''}")
            for error in level.errors[:3]:
                print(f"   run not succeeded (retried): {error}")
        phases, calls, routes = run_baseline(stack_, args.count, args.nodes, args.task_seconds, args.timeout)
        base = sum(phases.values())
        print(f"\nbaseline, one `tofu apply` of all {args.count} VMs in one workspace (parallelism 10): "
              f"{base:.1f} s (init {phases['init']:.1f}, plan {phases['plan']:.1f}, apply {phases['apply']:.1f}), "
              f"{args.count / base * 60:.1f} VMs/min, {calls} Proxmox requests ({calls / args.count:.1f}/VM)")
        print(f"   busiest routes: {routes}")
        print("\nconcurrency   wall s   ratio to baseline")
        for level in levels:
            print(f"{level.concurrency:>11}   {level.wall:6.1f}   {level.wall / base:6.2f}x")
        best = min(levels, key=lambda lv: lv.wall)
        parts = ", ".join(f"c={lv.concurrency} {lv.wall:.1f}s ({lv.wall / base:.1f}x)" for lv in levels)
        print(f"SUMMARY reconciler {args.count} VMs to Ready: {parts} vs one tofu apply {base:.1f}s; best "
              f"{args.count / best.wall * 60:.0f} VMs/min at concurrency {best.concurrency}")


if __name__ == "__main__":
    main()
