"""One object's OpenTofu run as the reconciler does it: init into the object's workspace, plan to a file,
record what the plan will create/change/destroy in the run, apply exactly that plan, read the outputs,
with every phase timed and every JSON event streamed into the run's log. Also destroy, and dropping a
workspace's state from the pg backend after a destroy.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from controlplane.drivers.terraform import GuestModule, ProcessControl, ProxmoxCredentials, TerraformRunner
from controlplane.drivers.terraform_render import root_module, run_directory
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


class _Timer:
    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings

    def __call__(self, phase: str) -> _Phase:
        return _Phase(self.timings, phase)


class _Phase:
    def __init__(self, timings: dict[str, float], phase: str) -> None:
        self.timings, self.phase = timings, phase

    def __enter__(self) -> None:
        self.start = time.monotonic()

    def __exit__(self, *_exc: object) -> None:
        self.timings[self.phase] = round(self.timings.get(self.phase, 0.0) + time.monotonic() - self.start, 3)


def _plan_record(summary: Any) -> dict[str, Any]:
    return {"counts": summary.counts(), "create": list(summary.create), "update": list(summary.update),
            "replace": list(summary.replace), "delete": list(summary.delete)}


def converge(setup: TerraformSetup, guest: GuestModule, workspace: str, creds: ProxmoxCredentials,
             run: RunRecorder, *, adopt: bool = False, cancel: threading.Event | None = None) -> Outcome:
    """init → plan (recorded in the run) → apply that plan when it changes anything (or adopts) → outputs."""
    runner, env = setup.runner, creds.env()
    control = ProcessControl(timeout=setup.timeout, cancel=cancel)
    timings: dict[str, float] = {}
    timed = _Timer(timings)
    document = root_module(guest, adopt=adopt)
    with run_directory(document, parent=setup.run_root / str(run.id)) as workdir:
        with timed("init"):
            runner.init(workdir, workspace, on_event=run.event, control=control)
        with timed("plan"):
            summary = runner.plan(workdir, env, on_event=run.event, control=control)
        plan = _plan_record(summary)
        run.set_summary(plan=plan, adopt=adopt, timings=timings)
        applied = summary.changed or adopt
        if applied:
            with timed("apply"):
                runner.apply(workdir, env, on_event=run.event, control=control)
        with timed("output"):
            outputs = runner.output(workdir, env, control=control)
    _remove_empty(setup.run_root / str(run.id))
    return Outcome(plan=plan, outputs=outputs, applied=applied, timings=timings)


def destroy(setup: TerraformSetup, guest: GuestModule, workspace: str, creds: ProxmoxCredentials,
            run: RunRecorder, *, cancel: threading.Event | None = None) -> Outcome:
    """init → plan a destroy (recorded) → apply it; nothing in the workspace is a no-op."""
    runner, env = setup.runner, creds.env()
    control = ProcessControl(timeout=setup.timeout, cancel=cancel)
    timings: dict[str, float] = {}
    timed = _Timer(timings)
    with run_directory(root_module(guest), parent=setup.run_root / str(run.id)) as workdir:
        with timed("init"):
            runner.init(workdir, workspace, on_event=run.event, control=control)
        with timed("plan"):
            summary = runner.plan(workdir, env, destroy=True, on_event=run.event, control=control)
        plan = _plan_record(summary)
        run.set_summary(plan=plan, timings=timings)
        if summary.changed:
            with timed("apply"):
                runner.apply(workdir, env, on_event=run.event, control=control)
    _remove_empty(setup.run_root / str(run.id))
    return Outcome(plan=plan, outputs={}, applied=summary.changed, timings=timings)


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
