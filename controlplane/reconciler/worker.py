"""The worker: a loop that schedules due objects, claims leases, runs up to ``concurrency`` objects at once
(threads: runs are mostly subprocesses and network waits), renews its leases while runs last, observes each
cluster once per resync interval, and wakes on PostgreSQL NOTIFY as well as on a periodic poll (the poll
alone is enough for correctness).

``start_worker(...)`` runs one in-process (``controlplane up``); ``controlplane worker`` runs one in the
foreground. Any number of workers, in any number of processes, coordinate only through PostgreSQL.
"""

from __future__ import annotations

import contextvars
import dataclasses
import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from uuid import UUID

from controlplane.drivers.terraform_process import kill_running
from controlplane.util import metrics

from . import leases
from .backoff import Backoff
from .context import RunContext
from .gateway import Gateway
from .observe import resync_cluster
from .reconcile import handle
from .store import system_tx

log = logging.getLogger(__name__)
CHANNEL = "controlplane_work"


@dataclass
class WorkerConfig:
    """How a worker paces itself."""

    concurrency: int = 4
    lease_ttl: float = 60.0
    poll_interval: float = 5.0
    resync_interval: float = 60.0
    backoff: Backoff = field(default_factory=Backoff)
    listen: bool = True
    gateway: bool = True


def make_holder() -> str:
    """A unique name for this worker: host, process and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    """One worker; ``start()`` returns at once, ``stop()`` cancels running runs and waits for them (bounded)."""

    def __init__(self, ctx: RunContext, config: WorkerConfig) -> None:
        self._gateway = Gateway() if config.gateway and ctx.gateway is None else None
        self.ctx = dataclasses.replace(ctx, gateway=self._gateway) if self._gateway else ctx
        self.config = config
        self.holder = ctx.holder
        self._stop = threading.Event()
        self._halted = threading.Event()  # set once no run is left: the heartbeat renews leases until then
        self._wake = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="run")
        self._active: dict[UUID, tuple[Future[str], threading.Event]] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.resyncs: list[object] = []

    def start(self) -> Worker:
        """Start the loop, the lease heartbeat and (if configured) the NOTIFY listener."""
        targets = [self._loop, self._heartbeat] + ([self._listen] if self.config.listen else [])
        for target in targets:
            thread = threading.Thread(target=target, name=f"worker-{target.__name__.strip('_')}", daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("worker %s started (%d concurrent runs)", self.holder, self.config.concurrency)
        return self

    def wake(self) -> None:
        """Look for work now instead of at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 60.0) -> bool:
        """Stop claiming, cancel the runs in progress and wait up to ``timeout`` seconds for them to end (each
        gives its lease back as it closes); hand back the leases of the runs still going then, so another
        worker takes them at once. True when every run ended; False when some were abandoned (their threads
        may still be running: the caller's process should exit)."""
        deadline = time.monotonic() + timeout
        self._stop.set()
        self._wake.set()
        if self._threads:  # the loop may be claiming right now: let it finish, so no new run escapes the cancel
            self._threads[0].join(timeout=min(5.0, timeout))
        with self._lock:
            running = dict(self._active)
        for _, cancel in running.values():
            cancel.set()
        _, left = wait_futures([future for future, _ in running.values()],
                               timeout=max(0.0, deadline - time.monotonic()))
        abandoned = [object_id for object_id, (future, _) in running.items() if future in left]
        self._halted.set()
        if abandoned:
            kill_running([running[object_id][1] for object_id in abandoned])
            self._hand_back(abandoned)
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()) + 1.0)
        self._pool.shutdown(wait=not abandoned, cancel_futures=True)
        if self._gateway is not None:
            self._gateway.stop()
        log.info("worker %s stopped%s", self.holder,
                 f"; {len(abandoned)} unfinished runs abandoned, their leases handed back" if abandoned else "")
        return not abandoned

    def _hand_back(self, object_ids: list[UUID]) -> None:
        try:
            with system_tx(self.ctx.engine) as conn:
                count = leases.hand_back(conn, self.holder, object_ids)
        except Exception:  # PostgreSQL away: the leases expire by themselves after lease_ttl
            log.exception("worker %s: handing back %d leases failed", self.holder, len(object_ids))
            return
        log.warning("worker %s: %d runs did not end in time; their leases are handed back", self.holder, count)

    @property
    def busy(self) -> int:
        """How many runs are in progress."""
        with self._lock:
            return len(self._active)

    # -- threads ---------------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:  # PostgreSQL away, say: log and try again at the next poll
                log.exception("worker %s: scheduling failed", self.holder)
            self._wake.wait(self.config.poll_interval)
            self._wake.clear()

    def _tick(self) -> None:
        with system_tx(self.ctx.engine) as conn:
            leases.schedule_due(conn)
            clusters = leases.claim_resync(conn, self.holder, self.config.resync_interval)
        for cluster_id in clusters:
            try:
                self.resyncs.append(resync_cluster(self.ctx, cluster_id))
                metrics.CLUSTER_LAST_RESYNC.labels(str(cluster_id)).set_to_current_time()
                del self.resyncs[:-100]
            except Exception as exc:
                log.warning("worker %s: observing cluster %s failed: %s", self.holder, cluster_id, exc)
        free = self.config.concurrency - self.busy
        if free <= 0 or self._stop.is_set():
            return
        with system_tx(self.ctx.engine) as conn:
            claimed = leases.claim(conn, self.holder, free, self.config.lease_ttl)
        for lease in claimed:
            cancel = threading.Event()
            ctx = dataclasses.replace(self.ctx, cancel=cancel)
            started = time.monotonic()
            with self._lock:
                # a context of its own per run: what a run binds for its log lines ends with it
                future = self._pool.submit(contextvars.copy_context().run, handle, ctx, lease, self.config.backoff)
                self._active[lease.object_id] = (future, cancel)
            metrics.WORKQUEUE_ADDS.labels(lease.object_kind).inc()
            future.add_done_callback(lambda f, lease=lease, t=started: self._done(
                lease.object_id, f, (lease.object_kind, time.monotonic() - t, lease.attempts > 0)))

    def _done(self, object_id: UUID, future: Future[str], timing: tuple[str, float, bool] | None = None) -> None:
        with self._lock:
            self._active.pop(object_id, None)
        if timing is not None:
            kind, seconds, retry = timing
            state = "failed" if future.cancelled() or future.exception() is not None else future.result()
            metrics.record_reconcile(kind, state, seconds, retry=retry)
        if not future.cancelled() and future.exception() is not None:
            log.error("run of %s crashed: %s", object_id, future.exception())
        self._wake.set()

    def _heartbeat(self) -> None:
        interval = max(0.2, self.config.lease_ttl / 3)
        while not self._halted.wait(interval):
            with self._lock:
                held = dict(self._active)
            if not held:
                continue
            try:
                with system_tx(self.ctx.engine) as conn:
                    kept = leases.renew(conn, self.holder, list(held), self.config.lease_ttl)
            except Exception:
                log.exception("worker %s: renewing leases failed", self.holder)
                continue
            for object_id, (_, cancel) in held.items():
                if object_id not in kept and not cancel.is_set():
                    log.warning("worker %s lost the lease on %s: cancelling its run", self.holder, object_id)
                    cancel.set()

    def _listen(self) -> None:
        while not self._stop.is_set():
            raw = None
            try:
                raw = self.ctx.engine.raw_connection()
                pg = raw.driver_connection
                pg.autocommit = True
                pg.execute(f"LISTEN {CHANNEL}")
                while not self._stop.is_set():
                    for _ in pg.notifies(timeout=0.5, stop_after=1):
                        self._wake.set()
            except Exception as exc:
                log.warning("worker %s: LISTEN failed (%s); polling only until it is back", self.holder, exc)
                self._stop.wait(self.config.poll_interval)
            finally:
                if raw is not None:
                    raw.invalidate()
