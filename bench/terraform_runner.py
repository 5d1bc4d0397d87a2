"""Benchmark: the overhead of our OpenTofu runner (``drivers.terraform_runner.TerraformRunner``: streamed,
redacted JSON events, process-group control, plan read back with ``show -json``) against running the very
same ``tofu`` command lines with ``subprocess.run`` (the baseline), measured in the same run.

One VM through our ``proxmox-vm`` module, state in PostgreSQL (pg backend, one workspace per repetition),
on a private simulator: init (+ workspace select), plan (+ show -json), apply, output, destroy (plan
-destroy + show + apply). Both sides get the same environment and working directory contents; the order
alternates between repetitions so neither always runs on a warmer machine. Events are collected in a list
(the reconciler writes them to the run log; that cost is not part of this figure).

Run: ``.venv/bin/python bench/terraform_runner.py [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from _support import Stack, median, stack, write_root

from controlplane.drivers.terraform import GuestModule, ProxmoxCredentials, TerraformRunner
from controlplane.drivers.terraform_render import VARIABLES_FILE, root_module, variables_file
from controlplane.drivers.terraform_runner import PLAN_FILE
from controlplane.pvesim import SimConfig, Simulator
from controlplane.reconciler.runtime import backend_url

PHASES = ("init", "plan", "apply", "output", "destroy")


def _guest(vmid: int) -> GuestModule:
    return GuestModule("VirtualMachine", {
        "node_name": "pve1", "vm_id": vmid, "name": f"bench-{vmid}", "cores": 1, "memory_mb": 512,
        "agent_enabled": True, "disks": [{"size_gb": 4, "storage": "local-lvm"}],
        "networks": [{"bridge": "vmbr0", "ipv4": "dhcp"}], "ssh_keys": [], "started": True,
    })


def with_runner(runner: TerraformRunner, workdir: Path, workspace: str, env: dict[str, str]) -> dict[str, float]:
    """One life cycle through the runner; seconds per phase."""
    events: list[dict[str, Any]] = []
    times: dict[str, float] = {}
    start = time.perf_counter()
    runner.init(workdir, workspace, on_event=events.append)
    times["init"] = time.perf_counter() - start
    start = time.perf_counter()
    summary = runner.plan(workdir, env, on_event=events.append)
    times["plan"] = time.perf_counter() - start
    assert summary.create, summary
    start = time.perf_counter()
    runner.apply(workdir, env, on_event=events.append)
    times["apply"] = time.perf_counter() - start
    start = time.perf_counter()
    outputs = runner.output(workdir, env)
    times["output"] = time.perf_counter() - start
    assert outputs.get("vm_id"), outputs
    start = time.perf_counter()
    gone = runner.destroy(workdir, env, on_event=events.append)
    times["destroy"] = time.perf_counter() - start
    assert gone.delete, gone
    return times


def with_subprocess(binary: str, workdir: Path, workspace: str, env: dict[str, str], schema: str
                    ) -> dict[str, float]:
    """The same command lines with ``subprocess.run``; seconds per phase."""
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([binary, *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise SystemExit(f"tofu {' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
        return result

    plan_args = ("-json", "-input=false", "-no-color", "-lock-timeout=30s", f"-out={PLAN_FILE}")
    times: dict[str, float] = {}
    start = time.perf_counter()
    run("init", "-json", "-input=false", "-no-color", f"-backend-config=schema_name={schema}")
    run("workspace", "select", "-or-create=true", workspace)
    times["init"] = time.perf_counter() - start
    start = time.perf_counter()
    run("plan", *plan_args)
    json.loads(run("show", "-json", "-no-color", PLAN_FILE).stdout)
    times["plan"] = time.perf_counter() - start
    start = time.perf_counter()
    run("apply", "-json", "-input=false", "-no-color", "-lock-timeout=30s", PLAN_FILE)
    times["apply"] = time.perf_counter() - start
    start = time.perf_counter()
    json.loads(run("output", "-json", "-no-color").stdout)
    times["output"] = time.perf_counter() - start
    start = time.perf_counter()
    run("plan", *plan_args, "-destroy")
    json.loads(run("show", "-json", "-no-color", PLAN_FILE).stdout)
    run("apply", "-json", "-input=false", "-no-color", "-lock-timeout=30s", PLAN_FILE)
    times["destroy"] = time.perf_counter() - start
    return times


def main() -> None:
    """Parse options, alternate both sides ``--repeat`` times, print medians, ratios and a summary line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="life cycles per side (default 5)")
    args = parser.parse_args()
    results: dict[str, dict[str, list[float]]] = {side: {p: [] for p in PHASES} for side in ("runner", "raw")}
    with stack("runner", with_vault=False) as stack_, \
            Simulator(SimConfig(nodes=1, seed=1, ca_dir=str(stack_.directory("ca")))) as sim:
        runner = TerraformRunner(binary=str(stack_.toolchain.tofu),
                                 pg_conn_str=backend_url(stack_.empty_database().owner),
                                 cli_config=stack_.toolchain.cli_config,
                                 plugin_cache_dir=stack_.toolchain.plugin_cache, create_schema=True)
        creds = ProxmoxCredentials(endpoint=sim.url, api_token=f"{sim.token_id}={sim.token_secret}",
                                   ca_file=sim.ca_file)
        env = creds.env()
        _cycle(stack_, runner, env, "runner", 900)  # warm-up: fills the plugin cache; not counted
        for i in range(args.repeat):
            order = ("runner", "raw") if i % 2 == 0 else ("raw", "runner")
            for side in order:
                times = _cycle(stack_, runner, env, side, 1000 + 2 * i + (side == "raw"))
                for phase, seconds in times.items():
                    results[side][phase].append(seconds)
    print(f"OpenTofu runner overhead: one VM through proxmox-vm, pg backend, pvesim; median of {args.repeat} "
          "life cycles per side\n")
    print(f"{'phase':<9}{'runner s':>10}{'raw s':>10}{'ratio':>9}")
    totals = {side: 0.0 for side in results}
    for phase in PHASES:
        ours, raw = median(results["runner"][phase]), median(results["raw"][phase])
        totals["runner"] += ours
        totals["raw"] += raw
        print(f"{phase:<9}{ours:10.2f}{raw:10.2f}{ours / raw:8.2f}x")
    ratio = totals["runner"] / totals["raw"]
    print(f"{'total':<9}{totals['runner']:10.2f}{totals['raw']:10.2f}{ratio:8.2f}x")
    print(f"SUMMARY terraform runner: one VM life cycle {totals['runner']:.2f}s through the runner vs "
          f"{totals['raw']:.2f}s raw tofu ({ratio:.2f}x, {(ratio - 1) * 100:+.0f}% overhead)")


def _cycle(stack_: Stack, runner: TerraformRunner, env: dict[str, str], side: str, vmid: int) -> dict[str, float]:
    workdir = stack_.directory(f"{side}-{vmid}")
    write_root(workdir, root_module(_guest(vmid)))
    (workdir / VARIABLES_FILE).write_text(json.dumps(variables_file(_guest(vmid))))
    workspace = f"bench-{side}-{vmid}"
    if side == "runner":
        return with_runner(runner, workdir, workspace, env)
    return with_subprocess(runner.binary, workdir, workspace, runner.environment(env), runner.schema_name)


if __name__ == "__main__":
    main()
