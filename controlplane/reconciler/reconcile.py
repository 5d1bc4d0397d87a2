"""One run on one leased object, whatever woke it: load the object, compare desired with observed and do
what the difference needs (converge or delete), then record how it went.

Failures decide what happens next: a TemporaryError gives the lease back with exponential backoff and
jitter (Ready=False, reason RetryScheduled, with the error and the attempt); a PermanentError stops
(Ready=False, reason Failed, ``status.stalled_generation``) until the spec changes; either way the run
record says why. An unexpected exception is treated as temporary, so nothing is ever silently stuck.
However a run ends, the object's status, the run record and the lease are written in one transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from controlplane.drivers.terraform import TerraformCancelled
from controlplane.errors import ControlPlaneError, TemporaryError

from . import leases
from .backoff import Backoff
from .conditions import READY, set_condition
from .context import RunContext
from .converge import converge_object
from .delete import delete_object
from .kinds import KINDS
from .leases import Lease
from .power import pending_actions, settle_actions
from .runlog import RunRecorder
from .store import ManagedObject, load, system_tx, write_status

log = logging.getLogger(__name__)


def _initial_action(obj: ManagedObject) -> str:
    if obj.deleted_at is not None:
        return "delete"
    return "create" if obj.status.get("vmid") is None or obj.status.get("create_pending") else "reconcile"


def handle(ctx: RunContext, lease: Lease, backoff: Backoff) -> str:
    """Run the leased object once; returns the run's final state (succeeded, failed, cancelled, gone)."""
    kind = KINDS[lease.object_kind]
    with system_tx(ctx.engine) as conn:
        obj = load(conn, kind, lease.object_id)
        if obj is None:
            leases.release(conn, lease)
            return "gone"
    attempt = lease.attempts + 1
    run = RunRecorder(ctx.engine, obj, action=_initial_action(obj), attempt=attempt, worker=ctx.holder)
    run.log(f"{kind.name} {obj.name} generation {obj.generation} (observed {obj.observed_generation}), "
            f"attempt {attempt}, worker {ctx.holder}")
    try:
        try:
            if obj.deleted_at is not None:
                delete_object(ctx, obj, run)
            else:
                converge_object(ctx, obj, run)
        finally:
            _record_gateway(ctx, run)
    except TemporaryError as exc:
        delay = backoff.delay(attempt, at_least=exc.delay)
        cancelled = isinstance(exc, TerraformCancelled) or ctx.cancel.is_set()
        run.log(f"temporary failure, retry in {delay:.1f}s: {exc.message}")
        return _close(ctx, obj, run, lease, Outcome(
            "cancelled" if cancelled else "failed", exc.message,
            show=f"{exc.message} (attempt {attempt}; retrying in {delay:.0f}s)",
            retry_in=0.0 if cancelled else delay))
    except ControlPlaneError as exc:
        run.log(f"permanent failure, not retried until the spec changes: {exc.message}")
        deleting = obj.deleted_at is not None  # a delete is always retried, slowly
        return _close(ctx, obj, run, lease, Outcome(
            "failed", exc.message, show=f"{exc.message} (fix the spec to retry)", reason="Failed", stalled=True,
            retry_in=backoff.cap if deleting else None, settle_actions=not deleting))
    except Exception as exc:  # a bug or an unforeseen foreign error: retry, and say so
        log.exception("run of %s %s failed unexpectedly", kind.name, obj.id)
        delay = backoff.delay(attempt)
        message = f"unexpected error: {type(exc).__name__}: {exc}"
        return _close(ctx, obj, run, lease, Outcome("failed", message, show=f"{message} (retrying in {delay:.0f}s)",
                                                    retry_in=delay))
    return _close(ctx, obj, run, lease, Outcome("succeeded", observed=obj.deleted_at is None))


@dataclass(frozen=True)
class Outcome:
    """How a run ended and what follows: the run's state and error, what the object shows (``show``: the
    Ready=False message, None for nothing), and the lease given back for a retry in ``retry_in`` seconds
    (None: released)."""

    state: str
    error: str | None = None
    show: str | None = None
    reason: str = "RetryScheduled"
    stalled: bool = False
    retry_in: float | None = None
    settle_actions: bool = False
    observed: bool = False
    """The run converged the object: its status is written with this generation observed."""


def _close(ctx: RunContext, obj: ManagedObject, run: RunRecorder, lease: Lease, outcome: Outcome) -> str:
    """Record the end of a run in one transaction: the object's status (a converged one's too, with its
    generation observed), pending actions, the run, the lease."""
    with system_tx(ctx.engine) as conn:
        if outcome.show is not None:  # the row may be gone already: then the UPDATE touches nothing
            obj.conditions = set_condition(obj.conditions, READY, False, outcome.reason, outcome.show)
            if outcome.stalled:
                obj.status["stalled_generation"] = obj.generation
            obj.status["last_error"] = outcome.show
            write_status(conn, obj)
        elif outcome.observed:
            write_status(conn, obj, observed_generation=obj.generation)
        if outcome.settle_actions:
            settle_actions(conn, [i for i, _ in pending_actions(conn, obj.id)], "failed")
        run.finish(outcome.state, outcome.error, conn=conn)
        if outcome.retry_in is None:
            leases.release(conn, lease)
        else:
            leases.retry_later(conn, lease, outcome.retry_in, outcome.error or "")
    return outcome.state


def _record_gateway(ctx: RunContext, run: RunRecorder) -> None:
    """Put what OpenTofu's requests cost through the gateway (calls, retries absorbed) into the run."""
    stats = ctx.gateway.close(str(run.id)) if ctx.gateway is not None else None
    if stats is not None and stats.requests:
        run.summary["proxmox"] = {"requests": stats.requests, "upstream_calls": stats.upstream_calls,
                                  "retries": stats.retries}
        if stats.retries:
            run.log(f"gateway: {stats.retries} Proxmox request(s) retried after temporary errors "
                    f"({stats.requests} requests)")
