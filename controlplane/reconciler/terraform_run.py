"""One object's OpenTofu run as the reconciler does it: init into the object's workspace, plan to a file,
record what the plan will create/change/destroy in the run, apply exactly that plan, read the outputs,
with every phase timed and every JSON event streamed into the run's log. Also destroy, and dropping a
workspace's state from the pg backend after a destroy.
"""

from __future__ import annotations

import contextlib
import threading
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
from controlplane.errors import TemporaryError

from .runlog import RunRecorder


@dataclass
class TerraformSetup:
    """How this worker runs OpenTofu: the runner (binary, pg backend, mirror, cache) and where run dirs go."""

    runner: TerraformRunner
    run_root: Path
    timeout: float = 1800.0


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


def _driver(setup: TerraformSetup, run_root: Path) -> TerraformDriver:
    return TerraformDriver(runner=setup.runner, run_root=run_root)


def converge(setup: TerraformSetup, guest: GuestModule, workspace: str, creds: ProxmoxCredentials,
             run: RunRecorder, *, adopt: bool = False, cancel: threading.Event | None = None) -> Outcome:
    """init → plan (recorded in the run) → apply that plan when it changes anything (or adopts) → outputs."""
    timings: dict[str, float] = {}
    run_root = setup.run_root / str(run.id)
    result = _driver(setup, run_root).converge(
        guest, workspace, creds, adopt=adopt, on_event=run.event, timings=timings,
        control=ProcessControl(timeout=setup.timeout, cancel=cancel),
        on_plan=lambda summary: run.set_summary(plan=_plan_record(summary), adopt=adopt, timings=timings))
    _remove_empty(run_root)
    return Outcome(plan=_plan_record(result.plan), outputs=result.outputs, applied=result.applied, timings=timings)


def destroy(setup: TerraformSetup, guest: GuestModule, workspace: str, creds: ProxmoxCredentials,
            run: RunRecorder, *, cancel: threading.Event | None = None) -> Outcome:
    """init → plan a destroy (recorded) → apply it; nothing in the workspace is a no-op."""
    timings: dict[str, float] = {}
    run_root = setup.run_root / str(run.id)
    result = _driver(setup, run_root).destroy(
        guest, workspace, creds, on_event=run.event, timings=timings,
        control=ProcessControl(timeout=setup.timeout, cancel=cancel),
        on_plan=lambda summary: run.set_summary(plan=_plan_record(summary), timings=timings))
    _remove_empty(run_root)
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


def _remove_empty(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir()
