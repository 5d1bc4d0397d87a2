"""Changes to guests as a stream: one LISTEN on ``controlplane_guest`` per process (a thread), fanned out to
every subscriber's asyncio queue; and the check whether a caller may hear of a guest (the same visibility
as ``guests.list_query``, so RLS and the role decide). Events carry ids only: a page that hears one reads
the guest again through the services."""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from uuid import UUID

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from controlplane.services import guests
from controlplane.services.caller import Caller

CHANNEL = "controlplane_guest"
QUEUE_SIZE = 256
TABLES = {"virtual_machines": guests.VM.name, "containers": guests.CONTAINER.name, "runs": "Run"}
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GuestEvent:
    """Something about one guest changed: ``source`` is VirtualMachine, Container or Run."""

    source: str
    guest_id: UUID
    tenant_id: UUID | None


def parse(payload: str) -> GuestEvent | None:
    """The event of a NOTIFY payload ``<table>:<guest id>:<tenant id>`` (None when malformed)."""
    table, _, rest = payload.partition(":")
    ident, _, tenant = rest.partition(":")
    try:
        return GuestEvent(TABLES[table], UUID(ident), UUID(tenant) if tenant else None)
    except (KeyError, ValueError):
        return None


@dataclass(eq=False)
class Subscription:
    """One listener's queue, bound to the event loop it reads from."""

    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[GuestEvent] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))

    async def next(self, timeout: float) -> GuestEvent | None:
        """The next event, or None after ``timeout`` seconds."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None

    def offer(self, event: GuestEvent) -> None:
        """Queue ``event`` (dropped when the reader is that far behind: it will re-read the page anyway)."""
        if not self.queue.full():
            self.queue.put_nowait(event)


class GuestEvents:
    """The process's listener on ``controlplane_guest`` and its subscribers."""

    def __init__(self, engine: Engine, retry: float = 1.0) -> None:
        self.engine, self.retry = engine, retry
        self._subs: set[Subscription] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()

    def subscribe(self) -> Subscription:
        """A new queue for the running event loop; the listener starts with the first one."""
        sub = Subscription(asyncio.get_running_loop())
        with self._lock:
            self._subs.add(sub)
            if self._thread is None:
                self._thread = threading.Thread(target=self._listen, name="guest-events", daemon=True)
                self._thread.start()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop delivering to ``sub``."""
        with self._lock:
            self._subs.discard(sub)

    def close(self) -> None:
        """Stop listening."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _deliver(self, event: GuestEvent) -> None:
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            try:
                sub.loop.call_soon_threadsafe(sub.offer, event)
            except RuntimeError:  # its loop has closed
                self.unsubscribe(sub)

    def _listen(self) -> None:
        while not self._stop.is_set():
            raw = None
            try:
                raw = self.engine.raw_connection()
                pg = raw.driver_connection
                pg.autocommit = True
                pg.execute(f"LISTEN {CHANNEL}")
                self.listening.set()
                while not self._stop.is_set():
                    for note in pg.notifies(timeout=0.5):
                        event = parse(note.payload)
                        if event is not None:
                            self._deliver(event)
            except Exception as exc:
                self.listening.clear()
                log.warning("guest events: LISTEN failed (%s); pages fall back to polling until it is back", exc)
                self._stop.wait(self.retry)
            finally:
                if raw is not None:
                    raw.invalidate()


def visible(session: Session, caller: Caller, event: GuestEvent) -> bool:
    """Whether the caller may see the guest the event is about (RLS and the role, as for its page)."""
    if not caller.is_admin and event.tenant_id != caller.tenant_id:
        return False
    for kind in (guests.VM, guests.CONTAINER):
        stmt = guests.list_query(kind, caller, include_deleted=True).where(kind.table.c.id == event.guest_id)
        if session.execute(stmt.limit(1)).first() is not None:
            return True
    return False
