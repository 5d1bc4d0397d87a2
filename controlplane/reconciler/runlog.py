"""Run records: one ``runs`` row per attempt on an object, and its log in ``run_log_entries`` as it happens.

OpenTofu's JSON events arrive line by line (already redacted by the Terraform driver); they are written
in small batches (every 20 lines or half a second) so a reader of the run sees progress while it lasts.
The runs of a worker that died are closed as failed by whoever takes over the object.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from controlplane.services import audit
from controlplane.services.caller import system_caller
from controlplane.util import logs

from .store import ManagedObject, system_tx

log = logging.getLogger(__name__)
FLUSH_LINES = 20
FLUSH_SECONDS = 0.5


def close_orphans(conn: sa.Connection, object_id: UUID) -> int:
    """Mark runs of the object still 'running' as failed: their worker lost its lease (it died or hung)."""
    return conn.execute(
        sa.text("UPDATE runs SET state = 'failed', finished_at = now(), "
                "error = coalesce(error, 'worker lost: its lease expired and another worker took over') "
                "WHERE target_id = :id AND state = 'running'"),
        {"id": object_id},
    ).rowcount or 0


class RunRecorder:
    """One run of one object: its row, its streamed log, and how it ended."""

    def __init__(self, engine: Engine, obj: ManagedObject, *, action: str, attempt: int, worker: str) -> None:
        self.engine = engine
        self.summary: dict[str, Any] = {}
        self._lines: list[tuple[str, str]] = []
        self._seq = 0
        self._last_flush = time.monotonic()
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._write_lock = threading.Lock()
        self.tenant_id = obj.tenant_id
        self.target = (obj.kind.name, obj.id, obj.name, obj.generation)
        self.action = action
        with system_tx(engine) as conn:
            close_orphans(conn, obj.id)
            self.id: UUID = conn.execute(
                sa.text("INSERT INTO runs (tenant_id, target_kind, target_id, target_name, action, generation, "
                        "state, attempt, worker, started_at) VALUES (:t, :k, :id, :name, :action, :gen, "
                        "'running', :attempt, :worker, clock_timestamp()) RETURNING id"),
                {"t": obj.tenant_id, "k": obj.kind.name, "id": obj.id, "name": obj.name, "action": action,
                 "gen": obj.generation, "attempt": attempt, "worker": worker},
            ).scalar_one()
        logs.bind(object_kind=obj.kind.name, object_name=obj.name, run_id=self.id)
        log.info("run started: %s, generation %d, attempt %d", action, obj.generation, attempt)

    def log(self, line: str, stream: str = "controlplane") -> None:
        """Append one line to the run's log (written within half a second)."""
        with self._lock:
            self._lines.append((stream, line))
            due = len(self._lines) >= FLUSH_LINES or time.monotonic() - self._last_flush >= FLUSH_SECONDS
            if not due and self._timer is None:  # no later line may come soon (an apply waiting on Proxmox)
                self._timer = threading.Timer(FLUSH_SECONDS, self._flush_later)
                self._timer.daemon = True
                self._timer.start()
        if due:
            self.flush()

    def _flush_later(self) -> None:
        with self._lock:
            self._timer = None
        try:
            self.flush()
        except Exception:  # the database away for a moment: the lines stay buffered for the next flush
            log.warning("run %s: writing its log failed; retried with the next line", self.id, exc_info=True)

    def event(self, event: dict[str, Any]) -> None:
        """Append one OpenTofu JSON event (its redacted line) to the log."""
        self.log(json.dumps(event, separators=(",", ":"), default=str), stream="tofu")

    def flush(self) -> None:
        """Write the buffered lines now (one writer at a time; lines that could not be written stay buffered)."""
        with self._write_lock:
            with self._lock:
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
                lines, self._lines = self._lines, []
                self._last_flush = time.monotonic()
            if not lines:
                return
            rows = [{"run": self.id, "seq": self._seq + 1 + i, "t": self.tenant_id, "stream": s, "line": text}
                    for i, (s, text) in enumerate(lines)]
            try:
                with system_tx(self.engine) as conn:
                    conn.execute(
                        sa.text("INSERT INTO run_log_entries (run_id, seq, tenant_id, stream, line) "
                                "VALUES (:run, :seq, :t, :stream, :line)"), rows)
            except BaseException:
                with self._lock:
                    self._lines[:0] = lines
                raise
            self._seq += len(lines)

    def set_summary(self, **values: Any) -> None:
        """Merge ``values`` into the run's summary and store it now (a plan is recorded before its apply)."""
        self.summary.update(values)
        with system_tx(self.engine) as conn:
            conn.execute(sa.text("UPDATE runs SET summary = CAST(:s AS jsonb), action = :a WHERE id = :id"),
                         {"s": json.dumps(self.summary, default=str), "a": self.action, "id": self.id})

    def note(self, **values: Any) -> None:
        """Merge ``values`` into the run's summary, stored when the run finishes (or with the next
        :meth:`set_summary`)."""
        self.summary.update(values)

    def set_action(self, action: str) -> None:
        """Name what the run turned out to do (create, update, delete, power, observe, noop); stored with
        the next summary write or when the run finishes."""
        self.action = action

    def finish(self, state: str, error: str | None = None, *, conn: sa.Connection | None = None) -> None:
        """Close the run as ``succeeded``, ``failed`` or ``cancelled``, and audit what the reconciler did;
        in ``conn``'s transaction when given (with the status and lease writes that go with it)."""
        self.flush()
        if conn is None:
            with system_tx(self.engine) as own:
                self._close(own, state, error)
        else:
            self._close(conn, state, error)

    def _close(self, conn: sa.Connection, state: str, error: str | None) -> None:
        kind, target_id, name, generation = self.target
        closed = conn.execute(
            sa.text("UPDATE runs SET state = :state, error = :error, summary = CAST(:s AS jsonb), action = :a, "
                    "finished_at = clock_timestamp() WHERE id = :id AND state = 'running'"),
            {"state": state, "error": error, "s": json.dumps(self.summary, default=str), "a": self.action,
             "id": self.id},
        ).rowcount
        if closed:
            audit.record(
                conn, system_caller(), f"reconcile.{self.action}", target_kind=kind, target_id=target_id,
                target_name=name, tenant_id=self.tenant_id,
                result=audit.SUCCESS if state == "succeeded" else audit.FAILURE,
                details={"run_id": str(self.id), "generation": generation, "state": state,
                         **({"error": error[:500]} if error else {})},
            )
