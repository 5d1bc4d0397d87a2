"""Run directories do not pile up: with the default retention (0) every run's directory is gone when the
run ends, failed or not; with a retention a finished run's directory (its ``main.tf.json`` and variables)
is kept for debugging and removed by a later run once the retention has passed, while a directory of a
run that has not finished is left alone. Real PostgreSQL, OpenBao, OpenTofu + bpg, pvesim."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from controlplane.reconciler.terraform_run import FINISHED, sweep_run_dirs
from tests.integration.reconciler.harness import VM, create_guest, runs_of, wait_ready


def test_run_directories_are_removed_or_kept_for_the_retention(make_rig, pvesim_factory,
                                                               tmp_path: Path) -> None:
    sim = pvesim_factory(nodes=1, task_seconds=0)
    world = make_rig(sim)
    root = world.terraform.run_root
    first = create_guest(world, VM, "removed-1")
    with world.worker():
        wait_ready(world, VM, first)
    assert runs_of(world, first) and not any(root.iterdir()), list(root.iterdir())

    world.terraform = dataclasses.replace(world.terraform, retention=3600)
    kept = create_guest(world, VM, "kept-1")
    with world.worker():
        wait_ready(world, VM, kept)
    run_dirs = [p for p in root.iterdir() if p.is_dir()]
    assert run_dirs and {p.name for p in run_dirs} <= {str(r["id"]) for r in runs_of(world, kept)}, run_dirs
    files = sorted(f.name for f in run_dirs[0].glob("tf-run-*/*.json"))
    assert files == ["guest.auto.tfvars.json", "main.tf.json"] and (run_dirs[0] / FINISHED).exists()

    running = root / "still-running"
    (running / "tf-run-x").mkdir(parents=True)
    assert sweep_run_dirs(root, 3600, abandoned_after=360) == 0
    past = time.time() - 7200
    for path in run_dirs:
        os.utime(path / FINISHED, (past, past))
    assert sweep_run_dirs(root, 3600, abandoned_after=360) == len(run_dirs)
    assert [p.name for p in root.iterdir()] == ["still-running"]
    os.utime(running, (past, past))
    assert sweep_run_dirs(root, 3600, abandoned_after=360) == 1 and not any(root.iterdir())
