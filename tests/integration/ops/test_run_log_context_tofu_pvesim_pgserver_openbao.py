"""JSON log lines written during a reconcile name the object and the run (real PostgreSQL, OpenBao, OpenTofu +
bpg, pvesim); lines of the worker outside a run carry neither."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

from controlplane.util.logs import JsonFormatter
from tests.integration.reconciler.harness import VM, create_guest, runs_of, wait_ready


def test_run_lines_carry_object_and_run_and_do_not_leak(make_rig, pvesim_factory,
                                                        tmp_path: Path) -> None:
    sim = pvesim_factory(nodes=1, task_seconds=0)
    world = make_rig(sim)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("controlplane.reconciler")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        vm_id = create_guest(world, VM, "logged-1", cores=1, memory_mb=512)
        with world.worker(concurrency=1):
            wait_ready(world, VM, vm_id)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    records = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    run_id = str(runs_of(world, vm_id)[0]["id"])
    started = [r for r in records if r["message"].startswith("run started")]
    assert started and all(r["run_id"] == run_id and r["object_kind"] == VM and r["object_name"] == "logged-1"
                           for r in started), records
    stopped = [r for r in records if "stopped" in r["message"] and r["logger"].endswith("worker")]
    assert stopped and all("run_id" not in r and "object_name" not in r for r in stopped), records
