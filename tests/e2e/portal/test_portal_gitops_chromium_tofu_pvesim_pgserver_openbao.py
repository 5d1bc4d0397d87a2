"""Git-managed guests and git sources in Chromium: a guest applied from files carries a "git" badge in the
list (card and table), names its source, repository, file and commit on its page and offers no resize form;
the Git sources page shows a manager their tenant's sources with state, commits and the last error (as
text, never markup), passes axe-core and fits a phone; a plain user gets no link and a 404."""

from __future__ import annotations

import sqlalchemy as sa
from playwright.sync_api import expect

from tests.e2e.portal.conftest import PHONE, Browsing
from tests.e2e.portal.test_portal_access_chromium_tofu_pvesim_pgserver_openbao import _axe
from tests.e2e.portal.test_portal_session_chromium_pgserver_openbao import login

COMMIT = "0123456789abcdef0123456789abcdef01234567"
REPOSITORY = "https://git.example.test/infra/guests.git"


def test_git_managed_guest_and_git_sources_page(browsing: Browsing) -> None:
    stack = browsing.stack
    people = stack.tenant("gitops")
    manager = stack.client(people["manager"]["email"])
    applied = manager.post("/api/v1/gitops/apply", json={
        "source": "infra", "repository": REPOSITORY, "commit": COMMIT,
        "documents": [{"file": "shop/web.yaml", "line": 1,
                       "document": stack.guest_doc("VirtualMachine", "gitweb")}]})
    assert applied.status_code == 200, applied.text
    assert applied.json()["applied"] is True

    page = browsing.page()
    login(page, people["manager"]["email"])
    row = page.locator("table.list tr", has_text="gitweb")
    expect(row.locator(".badge-git")).to_have_text("git")
    page.get_by_role("link", name="gitweb").first.click()
    expect(page.locator("#git-source")).to_contain_text("infra")
    expect(page.locator("#git-source")).to_contain_text(f"shop/web.yaml in {REPOSITORY}")
    expect(page.locator("#git-source")).to_contain_text(COMMIT[:12])
    expect(page.locator("#git-managed")).to_have_text(f"managed by git: change shop/web.yaml in {REPOSITORY}")
    assert page.get_by_role("button", name="Resize").count() == 0
    assert page.locator("#cores").count() == 0
    expect(page.locator(".badge-git").first).to_be_visible()

    phone = browsing.page(PHONE)
    login(phone, people["member"]["email"])
    card = phone.locator("li.card", has_text="gitweb")
    expect(card.locator(".badge-git")).to_have_text("git")
    expect(phone.get_by_role("link", name="Git sources")).to_have_count(0)
    assert phone.goto("/git-sources").status == 404

    made = manager.post("/api/v1/git-sources", json={"name": "infra", "url": REPOSITORY, "suspended": True})
    assert made.status_code == 201, made.text
    other = stack.tenant("gitother")
    theirs = stack.client(other["manager"]["email"]).post(
        "/api/v1/git-sources", json={"name": "elsewhere", "url": REPOSITORY, "suspended": True})
    assert theirs.status_code == 201, theirs.text
    owner = sa.create_engine(stack.owner_url)
    try:
        with owner.begin() as conn:
            conn.execute(sa.text("UPDATE git_sources SET state = 'Failed', last_error = :error, "
                                 "last_seen_commit = :seen, last_polled_at = now() WHERE id = :id"),
                         {"error": "web.yaml:3:1: <b>x</b>", "seen": COMMIT, "id": made.json()["id"]})
    finally:
        owner.dispose()

    page.get_by_role("link", name="Git sources").click()
    expect(page.get_by_role("heading", name="Git sources", exact=True)).to_be_visible()
    card = page.locator("li.card", has_text="infra")
    expect(card.locator(".source-state")).to_have_text("Failed")
    expect(card.locator(".source-error")).to_have_text("web.yaml:3:1: <b>x</b>")
    assert card.locator(".source-error b").count() == 0
    expect(card.locator("code").first).to_have_text(COMMIT[:12])
    assert card.locator("time").get_attribute("title"), "the exact poll time shows on hover"
    assert card.locator("time").inner_text().strip()
    assert page.locator("li.card", has_text="elsewhere").count() == 0
    assert not _axe(page)
    browsing.shot(page, "git-sources-desktop")

    small = browsing.page(PHONE)
    login(small, people["manager"]["email"])
    small.goto("/git-sources")
    expect(small.locator("li.card", has_text="infra").locator(".source-state")).to_have_text("Failed")
    assert small.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert not _axe(small)
    browsing.shot(small, "git-sources-phone")
