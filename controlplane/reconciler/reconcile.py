"""One run on one leased object, whatever woke it: load the object, compare desired with observed and do
what the difference needs (converge or delete), then record how it went.

Failures decide what happens next: a TemporaryError gives the lease back with exponential backoff and
jitter (Ready=False, reason RetryScheduled, with the error and the attempt); a PermanentError stops
(Ready=False, reason Failed, ``status.stalled_generation``) until the spec changes; either way the run
record says why. An unexpected exception is treated as temporary, so nothing is ever silently stuck.
"""

from __future__ import annotations

import logging

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
        _record_failure(ctx, obj, "RetryScheduled",
                        f"{exc.message} (attempt {attempt}; retrying in {delay:.0f}s)", stalled=False)
        run.log(f"temporary failure, retry in {delay:.1f}s: {exc.message}")
        run.finish("cancelled" if cancelled else "failed", exc.message)
        with system_tx(ctx.engine) as conn:
            leases.retry_later(conn, lease, 0.0 if cancelled else delay, exc.message)
        return "cancelled" if cancelled else "failed"
    except ControlPlaneError as exc:
        _record_failure(ctx, obj, "Failed", f"{exc.message} (fix the spec to retry)", stalled=True)
        run.log(f"permanent failure, not retried until the spec changes: {exc.message}")
        run.finish("failed", exc.message)
        with system_tx(ctx.engine) as conn:
            if obj.deleted_at is not None:  # a delete is always retried, slowly
                leases.retry_later(conn, lease, backoff.cap, exc.message)
            else:
                settle_actions(conn, [i for i, _ in pending_actions(conn, obj.id)], "failed")
                leases.release(conn, lease)
        return "failed"
    except Exception as exc:  # a bug or an unforeseen foreign error: retry, and say so
        log.exception("run of %s %s failed unexpectedly", kind.name, obj.id)
        delay = backoff.delay(attempt)
        message = f"unexpected error: {type(exc).__name__}: {exc}"
        _record_failure(ctx, obj, "RetryScheduled", f"{message} (retrying in {delay:.0f}s)", stalled=False)
        run.finish("failed", message)
        with system_tx(ctx.engine) as conn:
            leases.retry_later(conn, lease, delay, message)
        return "failed"
    run.finish("succeeded")
    with system_tx(ctx.engine) as conn:
        leases.release(conn, lease)
    return "succeeded"


def _record_gateway(ctx: RunContext, run: RunRecorder) -> None:
    """Put what OpenTofu's requests cost through the gateway (calls, retries absorbed) into the run."""
    stats = ctx.gateway.close(str(run.id)) if ctx.gateway is not None else None
    if stats is not None and stats.requests:
        run.summary["proxmox"] = {"requests": stats.requests, "upstream_calls": stats.upstream_calls,
                                  "retries": stats.retries}
        if stats.retries:
            run.log(f"gateway: {stats.retries} Proxmox request(s) retried after temporary errors "
                    f"({stats.requests} requests)")


def _record_failure(ctx: RunContext, obj: ManagedObject, reason: str, message: str, *, stalled: bool) -> None:
    """Show on the object why it is not Ready (its row may be gone already: then nothing to show)."""
    obj.conditions = set_condition(obj.conditions, READY, False, reason, message)
    if stalled:
        obj.status["stalled_generation"] = obj.generation
    obj.status["last_error"] = message
    with system_tx(ctx.engine) as conn:
        write_status(conn, obj)
