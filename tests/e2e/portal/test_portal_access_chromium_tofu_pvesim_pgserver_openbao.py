"""Who sees what, forged posts, hostile text, quotas and accessibility, in Chromium: a plain user sees only
their project's or assigned guests; a manager of another tenant gets 404 for this tenant's guest, project
and run pages; a POST without its CSRF token is refused (403) and changes nothing; markup and ``{{ }}`` in
a project description, a form value and a run's log render as text; a create that would exceed the quota
is refused with a message naming it (in the browser first, by the server in a race); axe-core finds no
serious or critical problem on any page, at desktop and phone size."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import text

from controlplane.db.engine import RequestContext, session_scope
from controlplane.util.net import wait_for
from tests.e2e.portal.conftest import DESKTOP, PHONE, Browsing
from tests.e2e.portal.test_portal_session_chromium_pgserver_openbao import login

HOSTILE = "<img src=x onerror=alert(1)>{{ 7*7 }}"
SMALL_TARGETS = """() => [...document.querySelectorAll("a, button, select, input:not([type=hidden])")]
  .filter((el) => el.offsetParent !== null && !el.closest(".skip"))
  .map((el) => [el, ["radio", "checkbox"].includes(el.type) ? el.closest("label") || el : el])
  .filter(([, target]) => target.getBoundingClientRect().height < 44)
  .map(([el, target]) => el.tagName + " " + (el.textContent || el.name || "").trim().slice(0, 30) + " "
       + Math.round(target.getBoundingClientRect().height) + "px high")"""
AXE = Path(__file__).resolve().parents[3] / "node_modules" / "axe-core" / "axe.min.js"


def _guest(stack, email: str, name: str, path: str = "/api/v1/vms", kind: str = "VirtualMachine") -> dict:
    resp = stack.client(email).post(path, json=stack.guest_doc(kind, name))
    assert resp.status_code == 201, resp.text
    return resp.json()


def _first_run(stack, email: str, guest_id: str) -> dict:
    client = stack.client(email)
    return wait_for(lambda: (client.get("/api/v1/runs", params={"target_id": guest_id}).json()["items"] or [None])[0],
                    timeout=120, interval=0.5, what="a run of the guest")


def test_users_see_their_guests_and_other_tenants_get_404(browsing: Browsing) -> None:
    stack = browsing.stack
    acme, other = stack.tenant(), stack.tenant()
    team = _guest(stack, acme["member"]["email"], "team-1")
    lent = _guest(stack, acme["manager"]["email"], "lent-1")
    assigned = stack.client(acme["manager"]["email"]).post(f"/api/v1/vms/{lent['id']}/assign",
                                                           json={"user_id": acme["outsider"]["id"]})
    assert assigned.status_code == 200, assigned.text
    run = _first_run(stack, acme["member"]["email"], team["id"])

    outsider = browsing.page()
    login(outsider, acme["outsider"]["email"])
    table = outsider.locator("table.list")
    expect(table.get_by_role("link", name="lent-1")).to_be_visible()
    expect(table.get_by_role("link", name="team-1")).to_have_count(0)
    expect(table.get_by_role("columnheader", name="Assigned")).to_have_count(0)  # a plain user's view

    manager = browsing.page()
    login(manager, acme["manager"]["email"])
    row = manager.locator("table.list tr", has=manager.get_by_role("link", name="lent-1"))
    expect(row).to_contain_text(acme["outsider"]["email"])  # managers see who is assigned
    browsing.shot(manager, "guests-manager-desktop")

    stranger = browsing.page()
    login(stranger, other["manager"]["email"])
    for url in (f"/guests/vm/{team['id']}", f"/projects/{acme['project_id']}", f"/runs/{run['id']}",
                f"/guests/vm/{team['id']}/delete", f"/events?guest={team['id']}", f"/runs/{run['id']}/log"):
        response = stranger.goto(url)
        assert response is not None and response.status == 404, (url, response and response.status)
    expect(stranger.get_by_role("heading", name="Not found")).to_be_visible()
    browsing.shot(stranger, "not-found-desktop")
    forged = stranger.request.post(f"/guests/vm/{team['id']}/actions/stop", max_redirects=0,
                                   headers={"X-CSRF-Token": stranger.locator("meta[name=csrf-token]")
                                            .get_attribute("content") or ""})
    assert forged.status == 404


def test_forged_posts_change_nothing_and_markup_is_text(browsing: Browsing) -> None:
    stack = browsing.stack
    acme = stack.tenant()
    project = stack.admin.post("/api/v1/projects", json={"name": "lab", "tenant": acme["name"],
                                                         "description": HOSTILE})
    assert project.status_code == 201, project.text
    guest = _guest(stack, acme["member"]["email"], "web-9")
    page = browsing.page()
    login(page, acme["manager"]["email"])
    before = stack.client(acme["manager"]["email"]).get(f"/api/v1/vms/{guest['id']}").json()
    for headers, form in (({}, {}), ({}, {"csrf_token": "guessed"}), ({"X-CSRF-Token": "guessed"}, {})):
        resp = page.request.post(f"/guests/vm/{guest['id']}/actions/stop", form=form, headers=headers,
                                 max_redirects=0)
        assert resp.status == 403 and "CSRF" in resp.text()
    resp = page.request.post(f"/guests/vm/{guest['id']}/delete", form={}, max_redirects=0)
    assert resp.status == 403
    after = stack.client(acme["manager"]["email"]).get(f"/api/v1/vms/{guest['id']}").json()
    assert after["spec"]["power"] == "running" and after["metadata"]["deleted_at"] is None
    assert after["metadata"]["resource_version"] == before["metadata"]["resource_version"]

    page.goto(f"/projects/{project.json()['id']}")
    expect(page.get_by_text(HOSTILE)).to_be_visible()
    assert page.locator("main img").count() == 0
    page.goto("/guests/new")
    page.get_by_label("Name").fill(HOSTILE)
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("alert")).to_contain_text("metadata.name")
    expect(page.get_by_label("Name")).to_have_value(HOSTILE)  # nothing lost, nothing run
    assert page.locator("main img").count() == 0

    run = _first_run(stack, acme["member"]["email"], guest["id"])
    with session_scope(stack.api.engine, RequestContext(role="system")) as session:
        session.execute(text("INSERT INTO run_log_entries (run_id, seq, tenant_id, stream, line) "
                             "VALUES (:run, 100000, :tenant, 'stderr', :line)"),
                        {"run": run["id"], "tenant": acme["id"], "line": "<script>alert(1)</script>" + HOSTILE})
    page.goto(f"/runs/{run['id']}")
    expect(page.locator("#run-log .err", has_text="<script>alert(1)</script>")).to_contain_text(HOSTILE)
    assert page.locator("#run-log script, #run-log img").count() == 0
    browsing.shot(page, "run-desktop")


def test_quota_is_refused_with_its_name(browsing: Browsing) -> None:
    stack = browsing.stack
    acme = stack.tenant(vcpus=2, guests=1)
    page = browsing.page(PHONE)
    login(page, acme["member"]["email"])
    page.goto("/guests/new")
    expect(page.locator(".quota-of:visible")).to_contain_text("2 vCPUs")
    page.get_by_label("Name").fill("big-1")
    page.get_by_label(re.compile("Large: ")).check()
    page.get_by_role("button", name="Create").click()
    expect(page.locator("#quota-warning")).to_contain_text("quota for vCPUs: 4 asked, 2 left")
    expect(page).to_have_url(re.compile("/guests/new$"))  # not sent
    browsing.shot(page, "quota-refused-phone")

    _guest(stack, acme["manager"]["email"], "first-1")  # the last guest of the quota goes meanwhile
    page.get_by_label(re.compile("Small: ")).check()
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("alert")).to_contain_text("quota exceeded for project 'shop': guests limit 1")
    expect(page.get_by_label("Name")).to_have_value("big-1")
    listed = stack.client(acme["member"]["email"]).get("/api/v1/vms", params={"name": "big-1"}).json()["items"]
    assert listed == []


def _axe(page: Page) -> list[dict]:
    page.evaluate(AXE.read_text())  # through the DevTools protocol: the page's CSP stays untouched
    result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
            for v in result if v["impact"] in ("serious", "critical")]


def test_every_page_passes_axe(browsing: Browsing) -> None:
    stack = browsing.stack
    acme = stack.tenant(vcpus=8, memory_mb=16384, disk_gb=200, guests=10)
    guest = _guest(stack, acme["member"]["email"], "a11y-1")
    run = _first_run(stack, acme["member"]["email"], guest["id"])
    key = stack.client(acme["manager"]["email"]).post("/api/v1/api-keys", json={"name": "ci"})
    assert key.status_code == 201, key.text
    pages = ["/", "/guests/new", f"/guests/vm/{guest['id']}", f"/guests/vm/{guest['id']}/delete",
             f"/runs/{run['id']}", "/projects", f"/projects/{acme['project_id']}", "/account", "/?q=nothing"]
    problems = {}
    for size, where in ((DESKTOP, "desktop"), (PHONE, "phone")):
        anonymous = browsing.page(size)
        for url in ("/login", "/forgot", "/reset?token=x"):
            anonymous.goto(url)
            problems[(where, url)] = _axe(anonymous)
            if size is PHONE:
                assert not anonymous.evaluate(SMALL_TARGETS), url
            browsing.shot(anonymous, f"{url.strip('/').split('?')[0]}-{where}")
        page = browsing.page(size)
        login(page, acme["manager"]["email"])
        for url in pages:
            page.goto(url)
            problems[(where, url)] = _axe(page)
            assert page.evaluate("document.documentElement.scrollWidth") <= size["width"], (where, url)
            if size is PHONE:
                small = page.evaluate(SMALL_TARGETS)
                assert not small, (url, small)
            name = url.strip("/").replace("/", "-").split("?")[0] or "guests"
            browsing.shot(page, f"{re.sub('[0-9a-f-]{36}', 'id', name)}-{where}")
    found = {k: v for k, v in problems.items() if v}
    assert not found, found
