"""The administration pages in Chromium: the dashboard; an admin creates a tenant and a user through the
forms, deactivates the user (who can no longer log in), registers a cluster (the connection is tested, the
secret never shown again), finds it all in the audit log and verifies its hash chain; a plain user is
refused; axe-core finds no serious problem on these pages."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from controlplane.pvesim import SimConfig, Simulator
from tests.e2e.portal.conftest import PHONE, Browsing
from tests.e2e.portal.test_portal_access_chromium_tofu_pvesim_pgserver_openbao import _axe
from tests.e2e.portal.test_portal_session_chromium_pgserver_openbao import login
from tests.fixtures.api import PASSWORD


def test_admin_pages(browsing: Browsing, tmp_path: Path) -> None:
    stack = browsing.stack
    page = browsing.page()
    login(page, "root@example.test")
    page.get_by_role("link", name="Admin").click()
    expect(page.get_by_role("heading", name="Clusters' capacity")).to_be_visible()
    expect(page.locator("h3", has_text="demo")).to_be_visible()
    assert not _axe(page)
    browsing.shot(page, "admin-dashboard-desktop")

    page.get_by_role("link", name="Tenants").click()
    page.get_by_label("Name (a DNS label)").fill("initech")
    page.get_by_label("Display name").fill("Initech <b>Corp</b>")
    page.get_by_role("button", name="Create the tenant").click()
    expect(page.get_by_role("status")).to_have_text("Tenant created")
    expect(page.get_by_text("Initech <b>Corp</b>")).to_be_visible()

    page.get_by_role("link", name="Users").click()
    page.get_by_label("Email").fill("peter@initech.test")
    page.get_by_label("First password (at least 12 characters)").fill(PASSWORD)
    page.get_by_label("Tenant").fill("initech")
    page.get_by_role("button", name="Create the user").click()
    expect(page.get_by_role("status")).to_have_text("User created")
    assert not _axe(page)
    peter = browsing.page(PHONE)
    login(peter, "peter@initech.test")
    expect(peter.get_by_role("heading", name="Guests")).to_be_visible()
    assert peter.goto("/admin").status == 403
    page.get_by_role("button", name="Deactivate peter@initech.test").click()
    expect(page.get_by_role("status")).to_have_text("User changed")
    peter.goto("/")
    expect(peter).to_have_url(f"{stack.url}/login?next=/")  # the open session ended with the account

    sim = Simulator(SimConfig(nodes=1, ca_dir=str(tmp_path / "ca"))).start()
    try:
        page.get_by_role("link", name="Clusters").click()
        page.get_by_label("Name", exact=True).fill("lab")
        page.get_by_label("API endpoint").fill(sim.url)
        page.get_by_label("Token id").fill(sim.token_id)
        page.get_by_label("Token secret").fill(sim.token_secret)
        page.get_by_label("CA certificate (PEM, optional)").fill(Path(sim.ca_file).read_text())
        page.get_by_role("button", name="Test and register").click()
        expect(page.get_by_role("status")).to_have_text("Cluster registered")
        lab = page.locator("section", has=page.get_by_role("heading", name="lab"))
        expect(lab).to_contain_text("pve1")
        assert sim.token_secret not in page.content()
        assert not _axe(page)
        browsing.shot(page, "admin-clusters-desktop")
    finally:
        sim.stop()

    page.get_by_role("link", name="Audit log").click()
    page.get_by_label("Action").fill("tenant.*")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(".runs li", has_text="tenant.create").first).to_contain_text("initech")
    page.get_by_role("link", name="Verify the hash chain").click()
    expect(page.locator("#chain-result")).to_contain_text("Chain intact")
    expect(page.locator("#chain-result")).to_contain_text("events verified")
    assert not _axe(page)
    browsing.shot(page, "admin-audit-desktop")
