"""``/events``: a Server-Sent Events stream per open page that says which guest changed (fed by PostgreSQL
NOTIFY, filtered by what the caller may see). The session is checked again every minute; when it has
ended the stream says so and closes. Pages without a stream poll instead."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from uuid import UUID

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from controlplane.errors import ControlPlaneError, NotFound
from controlplane.portal.guest_view import parse_id
from controlplane.portal.session import POLICY, Page, current_page, meta, runtime
from controlplane.services import guest_events, portal_sessions
from controlplane.services.guest_events import GuestEvent, GuestEvents

router = APIRouter()
HEARTBEAT = 15.0
RECHECK = 60.0
HEADERS = {"Cache-Control": "no-cache, no-store", "X-Accel-Buffering": "no"}


def hub_of(app: FastAPI) -> GuestEvents:
    """The app's one listener (started with its first stream, stopped with the app)."""
    hub = getattr(app.state, "guest_events", None)
    if hub is None:
        hub = app.state.guest_events = GuestEvents(app.state.runtime.deps.app_engine)
    return hub  # type: ignore[no-any-return]


def stop_hub(app: FastAPI) -> None:
    """Stop the app's listener, if it ever started."""
    hub = getattr(app.state, "guest_events", None)
    if hub is not None:
        hub.close()


def _frame(event: str, data: dict[str, str]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


class _Filter:
    """Which events this stream's caller may hear; a guest once seen stays heard (its deletion too)."""

    def __init__(self, page: Page, only: UUID | None) -> None:
        self.page, self.only, self.seen = page, only, set[UUID]() if only is None else {only}

    async def allows(self, event: GuestEvent) -> bool:
        if self.only is not None:
            return event.guest_id == self.only
        if event.guest_id in self.seen:
            return True
        ok = await run_in_threadpool(
            self.page.db.read, lambda s: guest_events.visible(s, self.page.caller, event))
        if ok:
            self.seen.add(event.guest_id)
        return bool(ok)


@router.get("/events")
async def events(request: Request, guest: str = "") -> StreamingResponse:
    """The stream of one page (``guest=<id>``: one guest's page; otherwise every guest the caller sees)."""
    page = await run_in_threadpool(current_page, request)
    only = parse_id(guest) if guest else None
    if only is not None and not page.caller.is_admin:
        probe = GuestEvent("", only, page.caller.tenant_id)
        if not await run_in_threadpool(page.db.read, lambda s: guest_events.visible(s, page.caller, probe)):
            raise NotFound("no such guest")
    hub = hub_of(request.app)
    sub = hub.subscribe()
    allowed = _Filter(page, only)
    engine = runtime(request).deps.app_engine
    who = meta(request)

    async def stream() -> AsyncIterator[str]:
        checked = time.monotonic()
        try:
            yield "retry: 3000\n: connected\n\n"
            while not await request.is_disconnected():
                event = await sub.next(HEARTBEAT)
                if time.monotonic() - checked > RECHECK:
                    try:
                        await run_in_threadpool(portal_sessions.resume, engine, who, page.token, POLICY)
                    except ControlPlaneError:
                        yield _frame("ended", {"reason": "session"})
                        return
                    checked = time.monotonic()
                if event is None:
                    yield ": keep-alive\n\n"
                elif await allowed.allows(event):
                    yield _frame("guest", {"id": str(event.guest_id), "source": event.source})
        finally:
            hub.unsubscribe(sub)

    return StreamingResponse(stream(), media_type="text/event-stream", headers=HEADERS)
