"""A guest's whole life in Chromium, as a new user does it: created through the form with ``node: auto``,
Ready on its page without a reload, stopped from the list, resized (the update converges; a stale form is
told someone else changed it), deleted with a confirmation naming it ("Deleting…", then gone). Once for a VM
on a desktop, once for a container on a phone (nothing wider than the screen). Real reconciler, OpenTofu,
pvesim, PostgreSQL and OpenBao behind it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.portal.conftest import DESKTOP, PHONE, Browsing
from tests.e2e.portal.test_portal_session_chromium_pgserver_openbao import login

CONVERGE = 120_000


def no_horizontal_scroll(page: Page) -> None:
    """The page is no wider than the viewport."""
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width, f"wider than {width}px"


@pytest.mark.parametrize(("kind", "label", "size"), [("vm", "Virtual machine", DESKTOP),
                                                      ("container", "Container (LXC)", PHONE)],
                         ids=["vm-desktop", "container-phone"])
def test_create_ready_stop_resize_delete(browsing: Browsing, kind: str, label: str, size: dict) -> None:
    stack = browsing.stack
    people = stack.tenant()
    where = "phone" if size is PHONE else "desktop"
    page = browsing.page(size)
    login(page, people["member"]["email"])
    expect(page.get_by_text("You have no guests yet.")).to_be_visible()
    browsing.shot(page, f"guests-empty-{where}")

    page.get_by_role("link", name="New guest").click()
    page.get_by_label(label).check()
    page.get_by_label("Name").fill("app-1")
    expect(page.locator("#name-check")).to_have_text("app-1 is free")
    page.get_by_label("Name").fill("App_1")
    expect(page.locator("#name-check")).to_contain_text("lower-case letters, digits and dashes")
    page.get_by_label("Name").fill("app-1")
    expect(page.get_by_label("Node")).to_have_value("auto")
    no_horizontal_scroll(page)
    browsing.shot(page, f"create-{where}")
    page.get_by_role("button", name="Create").click()

    expect(page).to_have_url(re.compile(rf"/guests/{kind}/[0-9a-f-]{{36}}$"))
    live = page.locator("#guest-live")
    expect(live.locator(".badge", has_text=re.compile("^Ready$"))).to_be_visible(timeout=CONVERGE)
    expect(page.locator("#status-node")).to_have_text(re.compile(r"^pve[12]$"))
    expect(page.locator("#status-ip")).to_have_text(re.compile(r"^\d+\.\d+\.\d+\.\d+$"))
    provisioned = page.locator("[data-condition=Provisioned] .message")
    expect(provisioned).to_have_text("OpenTofu: 1 resource created")
    no_horizontal_scroll(page)
    browsing.shot(page, f"detail-{where}")
    detail_url = page.url

    page.get_by_role("link", name="Guests").click()
    holder = page.locator("ul.cards li" if size is PHONE else "table.list tr",
                          has=page.get_by_role("link", name="app-1"))
    holder.get_by_role("button", name="Stop app-1").click()
    expect(holder.locator(".power")).to_have_text("stopped", timeout=CONVERGE)  # live: no reload
    expect(holder.get_by_role("button", name="Start app-1")).to_be_visible()

    page.goto(detail_url)
    stale = browsing.page(size)  # the same user in a second window keeps an old form
    login(stale, people["member"]["email"])
    stale.goto(detail_url)
    page.get_by_label("vCPUs").fill("2")
    page.get_by_label("Memory (GiB)").fill("1")
    page.get_by_role("button", name="Resize").click()
    expect(page.get_by_role("status")).to_have_text("Resize requested")
    expect(page.locator("#spec-cores")).to_have_text("2")
    expect(page.locator("#spec-memory")).to_have_text("1 GiB")
    expect(live.locator(".badge", has_text=re.compile("^Ready$"))).to_be_visible(timeout=CONVERGE)
    expect(page.locator("[data-condition=Provisioned] .message")).to_have_text(
        "OpenTofu: 1 resource changed in place", timeout=CONVERGE)
    stale.get_by_label("vCPUs").fill("3")
    stale.get_by_role("button", name="Resize").click()
    expect(stale.get_by_role("alert")).to_contain_text("Someone else changed this guest")
    expect(stale.locator("#spec-cores")).to_have_text("2")  # nothing changed by the stale form

    page.get_by_role("link", name="Delete app-1…").click()
    expect(page.get_by_role("heading", name="Delete app-1?")).to_be_visible()
    browsing.shot(page, f"delete-{where}")
    page.get_by_role("button", name="Delete app-1").click()
    expect(page.locator("#guest-live .badge", has_text="Deleting…")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("app-1 is deleted", timeout=CONVERGE)
    expect(page.get_by_role("link", name="app-1")).to_have_count(0)
    expect(page.get_by_text("You have no guests yet.")).to_be_visible()
