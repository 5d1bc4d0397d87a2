"""The live event stream (``/events``) in Chromium and over HTTP: a status change written to PostgreSQL
reaches the open list page through NOTIFY and SSE (and the page re-renders it without a reload); another
tenant's changes never reach it; the stream is unbuffered (``X-Accel-Buffering: no``), needs a session,
and another tenant's guest is 404."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect
from sqlalchemy import text

from controlplane.db.engine import RequestContext, session_scope
from tests.e2e.portal.conftest import Browsing
from tests.e2e.portal.test_portal_session_chromium_pgserver_openbao import login

COLLECT = """() => { window.heard = []; window.controlplane.stream.addEventListener("guest",
  (e) => window.heard.push(JSON.parse(e.data).id)); }"""


def _create(stack, email: str, name: str) -> dict:
    resp = stack.client(email).post("/api/v1/containers", json=stack.guest_doc("Container", name, power="stopped"))
    assert resp.status_code == 201, resp.text
    return resp.json()


def _observe(stack, guest_id: str, ip: str) -> None:
    """Write a status as the reconciler does (the worker may overwrite it later: only the event matters)."""
    with session_scope(stack.api.engine, RequestContext(role="system")) as session:
        session.execute(text("UPDATE containers SET status = status || jsonb_build_object('ipv4', CAST(:ip AS text)) "
                             "WHERE id = :id"), {"ip": ip, "id": guest_id})


def test_status_changes_reach_the_open_page(browsing: Browsing) -> None:
    stack = browsing.stack
    mine, theirs = stack.tenant(), stack.tenant()
    own = _create(stack, mine["member"]["email"], "live-1")
    other = _create(stack, theirs["member"]["email"], "live-2")
    page = browsing.page()
    login(page, mine["member"]["email"])
    page.wait_for_function("() => window.controlplane && window.controlplane.stream && "
                           "window.controlplane.stream.readyState === 1")
    page.evaluate(COLLECT)
    _observe(stack, other["id"], "192.0.2.9")
    _observe(stack, own["id"], "192.0.2.7")
    page.wait_for_function(f"() => window.heard.includes('{own['id']}')")
    assert other["id"] not in page.evaluate("window.heard")  # NOTIFY order: it would have come first
    address = page.locator("tr", has=page.get_by_role("link", name="live-1")).locator("td").nth(4)
    # the worker creating the container writes its status too and may replace the address just written;
    # written again (at most 5 times), every write must reach the page without a reload
    for _ in range(4):
        try:
            expect(address).to_have_text("192.0.2.7", timeout=3000)
            break
        except AssertionError:
            _observe(stack, own["id"], "192.0.2.7")
    expect(address).to_have_text("192.0.2.7")


def test_stream_headers_session_and_tenancy(browsing: Browsing) -> None:
    stack = browsing.stack
    mine, theirs = stack.tenant(), stack.tenant()
    other = _create(stack, theirs["member"]["email"], "live-3")
    page = browsing.page()
    login(page, mine["manager"]["email"])
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    with httpx.stream("GET", stack.url + "/events", cookies=cookies, timeout=10) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        assert resp.headers["x-accel-buffering"] == "no"
        assert "connected" in next(resp.iter_text())
    foreign = httpx.get(stack.url + "/events", params={"guest": other["id"]}, cookies=cookies, timeout=10)
    assert foreign.status_code == 404
    anonymous = httpx.get(stack.url + "/events", timeout=10)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
