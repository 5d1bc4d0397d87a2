"""Logging in and out of the portal in Chromium: the session cookie's flags, the API's login throttling,
a POST without its anti-forgery token refused with 403 (and the session unchanged), logout ending the
session server-side (the old cookie no longer opens a page)."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect
from sqlalchemy import text

from controlplane.db.engine import RequestContext, session_scope
from controlplane.services import resets
from controlplane.services.caller import system_caller
from tests.e2e.portal.conftest import PHONE, Browsing
from tests.fixtures.api import PASSWORD


def login(page, email: str, password: str = PASSWORD) -> None:
    """Log in through the form as a user does."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_login_csrf_logout(browsing: Browsing) -> None:
    people = browsing.stack.tenant()
    page = browsing.page()
    page.goto("/")
    expect(page).to_have_url(f"{browsing.stack.url}/login?next=/")
    browsing.shot(page, "login-desktop")

    login(page, people["member"]["email"], "wrong password, surely")
    expect(page.get_by_role("alert")).to_have_text("wrong email or password")

    login(page, people["member"]["email"])
    expect(page.get_by_text(people["member"]["email"])).to_be_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "cp_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]  # plain HTTP here

    forged = page.request.post("/logout", form={"csrf_token": "not-the-token"}, max_redirects=0)
    assert forged.status == 403 and "CSRF" in forged.text()
    missing = page.request.post("/logout", form={}, max_redirects=0)
    assert missing.status == 403
    page.reload()
    expect(page.get_by_text(people["member"]["email"])).to_be_visible()  # still logged in: nothing changed

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("status")).to_have_text("You are logged out.")
    assert not [c for c in page.context.cookies() if c["name"] == "cp_session"]
    stale = httpx.get(browsing.stack.url + "/", cookies={"cp_session": cookie["value"]})
    assert stale.status_code == 303 and stale.headers["location"].startswith("/login")


def test_login_is_throttled_like_the_api(browsing: Browsing) -> None:
    people = browsing.stack.tenant()
    page = browsing.page(PHONE)
    alert = page.get_by_role("alert")
    for _ in range(5):  # the API's free failures
        login(page, people["outsider"]["email"], "not the password at all")
        expect(alert).to_have_text("wrong email or password")
    for _ in range(10):  # then each failure doubles the wait; one soon comes too early
        login(page, people["outsider"]["email"], "not the password at all")
        if "too many" in alert.inner_text():
            break
    expect(alert).to_contain_text("too many failed login attempts")
    browsing.shot(page, "login-throttled-phone")


def test_login_form_without_its_token_is_refused(browsing: Browsing) -> None:
    people = browsing.stack.tenant()
    resp = httpx.post(browsing.stack.url + "/login", data={"email": people["member"]["email"], "password": PASSWORD})
    assert resp.status_code == 403 and "cp_session" not in resp.cookies


def test_idle_session_ends(browsing: Browsing) -> None:
    people = browsing.stack.tenant()
    page = browsing.page()
    login(page, people["member"]["email"])
    expect(page.get_by_role("heading", name="Guests")).to_be_visible()
    with session_scope(browsing.stack.api.engine, RequestContext(role="system")) as session:  # 30 idle minutes pass
        session.execute(text("UPDATE refresh_tokens SET expires_at = now() - interval '1 second' "
                             "WHERE user_id = :id AND revoked_at IS NULL"), {"id": people["member"]["id"]})
    page.goto("/projects")
    expect(page).to_have_url(f"{browsing.stack.url}/login?next=/projects")


class Outbox:
    """Where the reset mail goes in this test (the SMTP delivery itself is tested with a real SMTP server)."""

    def __init__(self) -> None:
        self.bodies: list[str] = []

    def send(self, to: str, subject: str, body: str) -> None:
        """Keep the message."""
        self.bodies.append(body)


def test_forgot_password_link_opens_the_reset_page(browsing: Browsing) -> None:
    stack = browsing.stack
    people = stack.tenant()
    page = browsing.page(PHONE)
    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill(people["member"]["email"])
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("status")).to_contain_text("If the account exists")
    outbox = Outbox()
    rt = stack.api.app.state.runtime
    resets.request_reset(stack.api.engine, outbox, rt.limiter, rt.policy, system_caller(ip="127.0.0.9"),
                         people["member"]["email"], stack.url)
    link = re.search(r"(http://\S+/reset\?token=\S+)", outbox.bodies[-1]).group(1)
    page.goto(link)
    page.get_by_label("New password (at least 12 characters)").fill("a brand new passphrase")
    page.get_by_label("New password, again").fill("a brand new passphrase")
    page.get_by_role("button", name="Set the password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password is changed")
    login(page, people["member"]["email"], "a brand new passphrase")
    expect(page.get_by_role("heading", name="Guests")).to_be_visible()
