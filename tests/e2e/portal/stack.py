"""The product the portal tests drive: one real stack for the whole session (PostgreSQL, OpenBao, the
simulator registered as cluster ``demo``, a reconciler worker running OpenTofu + bpg/proxmox) served by
uvicorn on a free loopback port, and helpers that set up tenants and users through the REST API as an admin
would (the browser then does what a user does)."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from playwright.sync_api import Locator, Page

from tests.fixtures.api import PASSWORD, Api

_names = itertools.count(1)


@dataclass
class Stack:
    """The running product: its URL, the in-process API (for setup by an admin) and the simulator."""

    url: str
    api: Api
    admin: TestClient
    sim: Any
    data_dir: Path
    owner_url: str = ""

    def tenant(self, prefix: str = "t", **quota: int) -> dict[str, Any]:
        """A new tenant with project ``shop`` (``quota`` limits it), a manager, a member and an outsider user."""
        name = f"{prefix}{next(_names)}"
        tenant = self.admin.post("/api/v1/tenants", json={"name": name, "display_name": f"Tenant {name}"})
        assert tenant.status_code == 201, tenant.text
        project = self.admin.post("/api/v1/projects", json={"name": "shop", "tenant": name, "quota": quota})
        assert project.status_code == 201, project.text
        people = {}
        for who, role in (("manager", "manager"), ("member", "user"), ("outsider", "user")):
            email = f"{who}@{name}.test"
            user = self.admin.post("/api/v1/users", json={"email": email, "password": PASSWORD, "role": role,
                                                         "tenant": name})
            assert user.status_code == 201, user.text
            people[who] = {"email": email, "id": user.json()["id"]}
        added = self.admin.post(f"/api/v1/projects/{project.json()['id']}/members",
                                json={"user_id": people["member"]["id"]})
        assert added.status_code == 201, added.text
        return {"name": name, "id": tenant.json()["id"], "project_id": project.json()["id"], **people}

    def client(self, email: str) -> TestClient:
        """A REST client logged in as ``email``."""
        return self.api.login(email)

    def guest_doc(self, kind: str, name: str, **spec: Any) -> dict[str, Any]:
        """A small guest document in project ``shop``."""
        body = {"cluster": "demo", "node": "auto", "cores": 1, "memory_mb": 512, "image": "debian-12",
                "disks": [{"size_gb": 4, "storage": "local-lvm"}], "network": [{"bridge": "vmbr0", "ipv4": "dhcp"}],
                "power": "running"}
        body.update(spec)
        return {"apiVersion": "controlplane/v1", "kind": kind, "metadata": {"name": name, "project": "shop"},
                "spec": body}


def reload_until(page: Page, locator: Locator, text: str, timeout: float = 120.0) -> None:
    """Reload ``page`` until ``locator`` shows ``text`` (for pages that do not update themselves)."""
    deadline = time.monotonic() + timeout
    while True:
        if locator.count() and locator.first.inner_text().strip() == text:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{locator} never showed {text!r} (last: {locator.all_inner_texts()})")
        page.wait_for_timeout(500)
        page.reload()
