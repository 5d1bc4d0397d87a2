"""One object's OpenTofu run as the reconciler does it: init into the object's workspace, plan to a file,
record what the plan will create/change/destroy in the run, apply exactly that plan, read the outputs,
with every phase timed and every JSON event streamed into the run's log. Also destroy (from the
workspace's state alone), and dropping a workspace's state from the pg backend after a destroy.

Each run works in ``<run root>/<run id>/``, which is removed when the run ends (its log is in the
database); with a ``retention`` it is marked finished, kept that many seconds for debugging and removed by
a later run (so are the directories a killed worker left, once older than a run's timeout).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from controlplane.drivers.terraform import (
    GuestModule,
    PlanSummary,
    ProcessControl,
    ProxmoxCredentials,
    TerraformDriver,
    TerraformRunner,
)
from controlplane.drivers.terraform_render import root_module, variables_file
from controlplane.errors import TemporaryError

from .runlog import RunRecorder


@dataclass
class TerraformSetup:
    """How this worker runs OpenTofu: the runner (binary, pg backend, mirror, cache) and where run dirs go."""

    runner: TerraformRunner
    run_root: Path
    timeout: float = 1800.0
    retention: float = 0.0
    """Seconds a finished run's directory is kept (0: removed at once)."""
    init_root: Path | None = None
    """Where the shared ``init`` data directories go (no values, no secrets): ``<run root>-init`` unless set."""

    def __post_init__(self) -> None:
        if self.init_root is None:
            self.init_root = self.run_root.with_name(self.run_root.name + "-init")


@dataclass
class Outcome:
    """What a converge or destroy did."""

    plan: dict[str, Any]
    outputs: dict[str, Any]
    applied: bool
    timings: dict[str, float] = field(default_factory=dict)


def _plan_record(summary: PlanSummary) -> dict[str, Any]:
    return {"counts": summary.counts(), "create": list(summary.create), "update": list(summary.update),
            "replace": list(summary.replace), "delete": list(summary.delete)}


def skipped_plan() -> dict[str, Any]:
    """The plan a run records when it starts no OpenTofu (nothing changed since the last apply): no change."""
    return {**_plan_record(PlanSummary()), "skipped": True}


FINISHED = ".finished"


@contextlib.contextmanager
def _driver(setup: TerraformSetup, run: RunRecorder) -> Iterator[TerraformDriver]:
    """A driver whose run directories go to ``<run root>/<run id>``, removed afterwards, or (with a
    retention) marked finished and removed by a later run once the retention has passed."""
    sweep_run_dirs(setup.run_root, setup.retention, abandoned_after=setup.timeout + 60)
    run_root = setup.run_root / str(run.id)
    keep = setup.retention > 0
    try:
        yield TerraformDriver(runner=setup.runner, run_root=run_root, keep_run_dirs=keep, init_root=setup.init_root)
    finally:
        if not keep:
            shutil.rmtree(run_root, ignore_errors=True)
        elif run_root.is_dir():
            (run_root / FINISHED).touch()


def sweep_run_dirs(run_root: Path, retention: float, *, abandoned_after: float) -> int:
    """Remove the run directories under ``run_root`` that finished more than ``retention`` seconds ago,
    and those never marked finished (a killed worker's) older than ``abandoned_after``; returns how many."""
    if not run_root.is_dir():
        return 0
    removed, now = 0, time.time()
    for path in run_root.iterdir():
        with contextlib.suppress(OSError):
            marker = path / FINISHED
            age = now - (marker.stat().st_mtime if marker.exists() else path.stat().st_mtime)
            if path.is_dir() and age > (retention if marker.exists() else max(retention, abandoned_after)):
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
    return removed


def applied_digest(setup: TerraformSetup, guest: GuestModule) -> str:
    """What an apply of ``guest`` depends on, digested: its root module and values, and everything
    ``init`` depends on (binary, provider, backend, the module's content). A run whose digest equals the
    one its last successful apply recorded, on a guest observed as it was left, needs no OpenTofu."""
    document = root_module(guest)
    parts = [document, variables_file(guest), setup.runner.init_key(document)]
    return "sha256:" + hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def converge(setup: TerraformSetup, guest: GuestModule, workspace: str, creds: ProxmoxCredentials,
             run: RunRecorder, *, adopt: bool = False, cancel: threading.Event | None = None) -> Outcome:
    """init → plan (recorded in the run) → apply that plan when it changes anything (or adopts) → outputs."""
    timings: dict[str, float] = {}
    with _driver(setup, run) as driver:
        result = driver.converge(
            guest, workspace, creds, adopt=adopt, on_event=run.event, timings=timings,
            control=ProcessControl(timeout=setup.timeout, cancel=cancel),
            on_plan=lambda summary: run.set_summary(plan=_plan_record(summary), adopt=adopt, timings=timings))
    return Outcome(plan=_plan_record(result.plan), outputs=result.outputs, applied=result.applied, timings=timings)


def destroy(setup: TerraformSetup, workspace: str, creds: ProxmoxCredentials, run: RunRecorder, *,
            cancel: threading.Event | None = None) -> Outcome:
    """init → plan a destroy of what the workspace's state holds (recorded) → apply it; needs no spec, so
    a spec that cannot plan does not block a delete; nothing in the workspace is a no-op."""
    timings: dict[str, float] = {}
    with _driver(setup, run) as driver:
        result = driver.destroy(
            workspace, creds, on_event=run.event, timings=timings,
            control=ProcessControl(timeout=setup.timeout, cancel=cancel),
            on_plan=lambda summary: run.set_summary(plan=_plan_record(summary), timings=timings))
    return Outcome(plan=_plan_record(result.plan), outputs={}, applied=result.applied, timings=timings)


def drop_workspace(setup: TerraformSetup, workspace: str) -> None:
    """Remove the workspace's state row from the pg backend (after a destroy left it empty)."""
    schema = setup.runner.schema_name
    try:
        with psycopg.connect(setup.runner.pg_conn_str, connect_timeout=10) as conn:
            exists = conn.execute("SELECT to_regclass(%s)", (f"{schema}.states",)).fetchone()
            if exists and exists[0]:
                conn.execute(f'DELETE FROM "{schema}".states WHERE name = %s', (workspace,))
    except psycopg.Error as exc:
        raise TemporaryError(f"could not drop workspace {workspace}: {type(exc).__name__}",
                             component="postgresql") from exc
