"""The account and project pages in Chromium: an API key's secret is shown once and works against the REST
API until revoked; changing the password ends the session (and the old password no longer logs in); a
manager sees the quota bars and adds and removes a project member."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.e2e.portal.conftest import PHONE, Browsing
from tests.e2e.portal.test_portal_session_chromium_pgserver_openbao import login
from tests.fixtures.api import PASSWORD

NEW_PASSWORD = "another long passphrase 42"


def test_api_keys_and_password_change(browsing: Browsing) -> None:
    stack = browsing.stack
    acme = stack.tenant()
    page = browsing.page(PHONE)
    login(page, acme["member"]["email"])
    page.get_by_role("link", name="Account").click()
    expect(page.get_by_text("No API keys yet.")).to_be_visible()
    page.get_by_label("Name of a new key").fill("ci-pipeline")
    page.get_by_role("button", name="Create a key").click()
    secret = page.locator("#new-key").inner_text()
    assert secret.startswith("cp_")
    me = httpx.get(stack.url + "/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.json()["email"] == acme["member"]["email"]
    browsing.shot(page, "account-phone")
    page.goto("/account")
    expect(page.locator("#new-key")).to_have_count(0)  # shown once
    assert secret not in page.content()
    page.get_by_role("button", name="Revoke ci-pipeline").click()
    expect(page.get_by_role("status")).to_have_text("Key revoked")
    assert httpx.get(stack.url + "/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401

    page.get_by_label("New password (at least 12 characters)").fill(NEW_PASSWORD)
    page.get_by_label("New password, again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change the password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password is changed")
    login(page, acme["member"]["email"], PASSWORD)
    expect(page.get_by_role("alert")).to_have_text("wrong email or password")
    login(page, acme["member"]["email"], NEW_PASSWORD)
    expect(page.get_by_role("heading", name="Guests")).to_be_visible()


def test_manager_sees_quota_and_manages_members(browsing: Browsing) -> None:
    stack = browsing.stack
    acme = stack.tenant(vcpus=4, memory_mb=8192, disk_gb=100, guests=5)
    page = browsing.page()
    login(page, acme["manager"]["email"])
    page.get_by_role("link", name="Projects").click()
    expect(page.get_by_text("0 of 4")).to_be_visible()
    page.get_by_role("link", name="shop").click()
    expect(page.get_by_label("vCPUs: 0 of 4")).to_be_visible()
    members = page.get_by_role("heading", name="Members").locator("..")
    expect(members).to_contain_text(acme["member"]["email"])
    page.get_by_label("Add a member").select_option(label=acme["outsider"]["email"])
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Member added")
    expect(members.locator("li", has_text=acme["outsider"]["email"])).to_have_count(1)
    browsing.shot(page, "project-desktop")
    page.get_by_role("button", name=f"Remove {acme['outsider']['email']}").click()
    expect(page.get_by_role("status")).to_have_text("Member removed")
    expect(members.locator("li", has_text=acme["outsider"]["email"])).to_have_count(0)
