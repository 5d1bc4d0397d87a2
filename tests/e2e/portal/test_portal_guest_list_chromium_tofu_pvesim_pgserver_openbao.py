"""The guest list (the home page) in Chromium: a table on a desktop and cards on a phone with the badges,
IP, node and project; filters, text search and cursor pagination; the stop button on a card. Guests are
created over REST by a member of the project and converged by the real reconciler."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.portal.conftest import PHONE, Browsing
from tests.e2e.portal.stack import reload_until
from tests.e2e.portal.test_portal_session_chromium_pgserver_openbao import login
from tests.fixtures.api import PASSWORD


def test_guest_list_filters_pages_and_power(browsing: Browsing) -> None:
    stack = browsing.stack
    people = stack.tenant()
    member = stack.client(people["member"]["email"])
    for kind, path, name in (("VirtualMachine", "/api/v1/vms", "web-1"), ("VirtualMachine", "/api/v1/vms", "web-2"),
                             ("Container", "/api/v1/containers", "cache-1")):
        resp = member.post(path, json=stack.guest_doc(kind, name))
        assert resp.status_code == 201, resp.text

    desktop = browsing.page()
    login(desktop, people["member"]["email"])
    table = desktop.locator("table.list")
    expect(table).to_be_visible()
    expect(desktop.locator("ul.cards")).to_be_hidden()
    for name in ("web-1", "web-2", "cache-1"):
        row = table.locator("tr", has=desktop.get_by_role("link", name=name, exact=True))
        reload_until(desktop, row.locator(".badge").first, "Ready")
    row = table.locator("tr", has=desktop.get_by_role("link", name="web-1", exact=True))
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", row.locator("td").nth(4).inner_text())
    assert row.locator("td").nth(5).inner_text() in ("pve1", "pve2")
    assert row.locator("td").nth(6).inner_text() == "shop"
    browsing.shot(desktop, "guests-desktop")

    desktop.goto("/?kind=container")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.get_by_role("link", name="cache-1")).to_be_visible()
    desktop.goto("/")
    desktop.get_by_label("Search").fill("web-")
    desktop.get_by_role("button", name="Filter").click()
    expect(table.locator("tbody tr")).to_have_count(2)
    desktop.goto("/?limit=2")
    expect(table.locator("tbody tr")).to_have_count(2)
    desktop.get_by_role("link", name="Next page").click()
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.get_by_role("link", name="web-2")).to_be_visible()
    desktop.goto("/?q=nothing-like-this")
    expect(desktop.get_by_text("No guest matches these filters.")).to_be_visible()

    phone = browsing.page(PHONE)
    login(phone, people["member"]["email"], PASSWORD)
    cards = phone.locator("ul.cards")
    expect(cards).to_be_visible()
    expect(phone.locator("table.list")).to_be_hidden()
    card = cards.locator("li", has=phone.get_by_role("link", name="web-1", exact=True))
    expect(card.locator(".power")).to_have_text("running")
    browsing.shot(phone, "guests-phone")
    card.get_by_role("button", name="Stop web-1").click()
    expect(card.locator(".power")).to_have_text("stopping…")
    expect(card.get_by_role("button", name="Start web-1")).to_be_visible()
    reload_until(phone, card.locator(".power"), "stopped")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
