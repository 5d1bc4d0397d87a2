"""``/events``: a Server-Sent Events stream per open page that says which guest changed (fed by PostgreSQL
NOTIFY, filtered by what the caller may see). The session is checked again every minute; when it has
ended the stream says so and closes. Pages without a stream poll instead."""

from __future__ import annotations

import asyncio
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
VISIBILITY_TTL = 10.0
HEADERS = {"Cache-Control": "no-cache, no-store", "X-Accel-Buffering": "no"}


def hub_of(app: FastAPI) -> GuestEvents:
    """The app's one listener (started with its first stream, stopped with the app)."""
    hub = getattr(app.state, "guest_events", None)
    if hub is None:
        hub = app.state.guest_events = GuestEvents(app.state.runtime.deps.app_engine)
        app.state.guest_visibility = Visibility()
    return hub  # type: ignore[no-any-return]


def stop_hub(app: FastAPI) -> None:
    """Stop the app's listener, if it ever started."""
    hub = getattr(app.state, "guest_events", None)
    if hub is not None:
        hub.close()


def _frame(event: str, data: dict[str, str]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


class Visibility:
    """Answers to "may this caller hear of this guest", shared by the streams of one process for a few
    seconds, and asked once however many of the caller's pages wait for the answer."""

    def __init__(self, ttl: float = VISIBILITY_TTL, size: int = 50_000) -> None:
        self.ttl, self.size = ttl, size
        self._answers: dict[tuple[object, ...], tuple[float, asyncio.Future[bool]]] = {}

    async def check(self, page: Page, event: GuestEvent) -> bool:
        """Whether ``page``'s caller may see the guest of ``event``."""
        caller = page.caller
        key = (caller.user_id, caller.role, caller.tenant_id, event.guest_id)
        now = time.monotonic()
        entry = self._answers.get(key)
        if entry is None or entry[0] < now:
            if len(self._answers) >= self.size:
                self._answers = {k: v for k, v in self._answers.items() if v[0] >= now}
            answer = asyncio.ensure_future(run_in_threadpool(
                page.db.read, lambda s: guest_events.visible(s, caller, event)))
            entry = self._answers[key] = (now + self.ttl, answer)
        return await asyncio.shield(entry[1])


class _Filter:
    """Which events this stream's caller may hear; a guest once seen stays heard (its deletion too)."""

    def __init__(self, page: Page, only: UUID | None, visibility: Visibility) -> None:
        self.page, self.only, self.visibility = page, only, visibility
        self.seen = set[UUID]() if only is None else {only}

    async def allows(self, event: GuestEvent) -> bool:
        if self.only is not None:
            return event.guest_id == self.only
        if event.guest_id in self.seen:
            return True
        ok = self.page.caller.is_admin or await self.visibility.check(self.page, event)
        if ok:
            self.seen.add(event.guest_id)
        return ok


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
    allowed = _Filter(page, only, request.app.state.guest_visibility)
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
