"""Session-wide fixtures of the portal's browser tests: the stack (see ``stack.py``), Debian's Chromium
driven by Playwright, a fresh browser context per test at desktop or phone size, and screenshots."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from controlplane.drivers.terraform import TerraformRunner
from controlplane.drivers.vault import VaultStore
from controlplane.pvesim import SimConfig, Simulator
from controlplane.reconciler.backoff import Backoff
from controlplane.reconciler.runtime import backend_url, start_worker
from controlplane.reconciler.terraform_run import TerraformSetup
from tests.e2e.portal.stack import Stack
from tests.fixtures.api import api_settings, build_api, register_sim, seed_user, serve
from tests.fixtures.postgres import create_database

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def stack(pg_server: Any, pg_template: str, vault_server: Any, toolchain: Any,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The product, once for every portal test: real database, OpenBao, simulator, OpenTofu worker, HTTP."""
    data_dir = tmp_path_factory.mktemp("portal-stack")
    database = create_database(pg_server, pg_template)
    vault = VaultStore(vault_server.addr, vault_server.token)
    sim = Simulator(SimConfig(nodes=2, task_seconds=0, ca_dir=str(data_dir / "ca"))).start()
    api = build_api(database, vault)
    seed_user(api.engine, "root@example.test", "admin")
    admin = api.login("root@example.test")
    register_sim(admin, sim)
    live = serve(api.app)
    runner = TerraformRunner(binary=str(toolchain.tofu), pg_conn_str=backend_url(database.owner),
                             cli_config=toolchain.cli_config, plugin_cache_dir=toolchain.plugin_cache)
    worker = start_worker(api_settings(data_dir=data_dir), api.engine, vault, owner_url=database.owner,
                          concurrency=2, ansible=False,
                          terraform=TerraformSetup(runner=runner, run_root=data_dir / "runs", timeout=300),
                          poll_interval=0.3, resync_interval=1.0, lease_ttl=20.0, backoff=Backoff(base=0.5, cap=4.0))
    try:
        yield Stack(url=live.url, api=api, admin=admin, sim=sim, data_dir=data_dir, owner_url=database.owner)
    finally:
        worker.stop()
        live.server.should_exit = True
        live.thread.join(timeout=10)
        for client in api.clients:
            client.close()
        api.engine.dispose()
        sim.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium (Playwright's own download cannot work here), headless."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is missing: run `make system-deps` as root (apt-get install chromium)", pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def shots(request: pytest.FixtureRequest) -> Path:
    """Where screenshots go: ``.pytest_cache/d/portal-screenshots/<test>/`` (kept after the run)."""
    return request.config.cache.mkdir("portal-screenshots")


class Browsing:
    """Open browser contexts (each its own cookie jar) at desktop or phone size; closed after the test."""

    def __init__(self, browser: Browser, stack: Stack, shots: Path, test_name: str) -> None:
        self.browser, self.stack, self.shots, self.test_name = browser, stack, shots, test_name
        self.contexts: list[Any] = []
        self.refused: list[str] = []

    def page(self, size: dict[str, int] = DESKTOP) -> Page:
        """A new page in a new context (no cookies) at ``size``."""
        context = self.browser.new_context(viewport=size, base_url=self.stack.url, has_touch=size is PHONE,
                                           is_mobile=size is PHONE)
        context.set_default_timeout(30_000)
        self.contexts.append(context)
        page = context.new_page()
        page.on("console", self._console)
        return page

    def _console(self, message: Any) -> None:
        if message.type == "error":
            print(f"console error: {message.text}")
            if "Content Security Policy" in message.text or "Refused to" in message.text:
                self.refused.append(message.text)

    def shot(self, page: Page, name: str) -> Path:
        """Save a full-page screenshot under the test's output folder."""
        path = self.shots / self.test_name / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        """Close every context opened."""
        for context in self.contexts:
            context.close()


@pytest.fixture
def browsing(browser: Browser, stack: Stack, shots: Path, request: pytest.FixtureRequest) -> Iterator[Browsing]:
    """Browser pages for this test."""
    session = Browsing(browser, stack, shots, request.node.name)
    yield session
    session.close()
    assert not session.refused, f"the Content-Security-Policy refused something: {session.refused}"
