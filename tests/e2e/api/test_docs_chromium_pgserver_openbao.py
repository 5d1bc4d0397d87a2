"""The API docs work in a real browser under the Content-Security-Policy and load nothing from another
host: Debian's Chromium (Playwright) opens ``/docs`` served by uvicorn over real PostgreSQL and OpenBao,
Swagger UI renders the operations, and no request leaves the server, no CSP refusal is logged."""

from __future__ import annotations

import shutil
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import sync_playwright

from tests.fixtures.api import Api

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def test_swagger_ui_renders_from_this_server_only(api: Api, live_server: Any) -> None:
    live = live_server(api.app)
    executable = shutil.which("chromium")
    assert executable, "chromium is missing: run `make system-deps` as root (apt-get install chromium)"
    hosts: set[str] = set()
    refusals: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
            page.on("console", lambda message: refusals.append(message.text)
                    if "Content Security Policy" in message.text or "Refused to" in message.text else None)
            page.goto(live.url + "/docs")
            page.wait_for_selector(".opblock-summary-path", timeout=60_000)
            paths = page.locator(".opblock-summary-path").all_inner_texts()
        finally:
            browser.close()
    assert any("/api/v1/vms" in p for p in paths), paths[:5]
    assert hosts == {urlsplit(live.url).netloc}, hosts
    assert refusals == []
