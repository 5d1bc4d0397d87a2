"""The product as a user drives it, for the reconciler's end-to-end tests: an admin sets up a tenant, a
project, a user and a cluster through ``/api/v1``; the user works with guest documents over HTTP; a worker
started the way ``controlplane up`` starts one (``start_worker``) converges them. Waiting is done by
reading the documents back with GET, as a client would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from controlplane.reconciler.configurator import Configurator
from controlplane.reconciler.runtime import start_worker
from controlplane.reconciler.terraform_run import TerraformSetup
from controlplane.reconciler.worker import Worker
from controlplane.util.net import wait_for
from tests.fixtures.api import PASSWORD, Api, api_settings, build_api, register_sim, seed_user
from tests.fixtures.conditions import condition
from tests.fixtures.reconciler import terraform_setup, worker_pace

PATHS = {"VirtualMachine": "/api/v1/vms", "Container": "/api/v1/containers"}


@dataclass
class Product:
    """One test's control plane, reached through its HTTP API."""

    api: Api
    admin: TestClient
    user: TestClient
    project_id: str
    tenant_id: str
    vault: Any
    database: Any
    toolchain: Any
    data_dir: Path

    @contextmanager
    def worker(self, configure: Configurator | None = None, agent_timeout: float = 120.0,
               terraform: TerraformSetup | None = None, **config: Any) -> Iterator[Worker]:
        """A worker in this process, as ``controlplane up`` starts one, with short intervals."""
        setup = terraform or terraform_setup(self.toolchain, self.database.owner, self.data_dir / "runs")
        settings = api_settings(data_dir=self.data_dir)
        worker = start_worker(settings, self.api.engine, self.vault, owner_url=self.database.owner,
                              concurrency=2, configure=configure, terraform=setup,
                              agent_timeout=agent_timeout, **worker_pace(**config))
        try:
            yield worker
        finally:
            worker.stop()

    def create(self, kind: str, name: str, **spec: Any) -> dict[str, Any]:
        """POST a small guest document (``node: auto``) as the user; returns the created document."""
        body = {"cluster": "demo", "node": "auto", "cores": 1, "memory_mb": 512, "image": "debian-12",
                "disks": [{"size_gb": 4, "storage": "local-lvm"}], "network": [{"bridge": "vmbr0", "ipv4": "dhcp"}],
                "power": "running"}
        body.update(spec)
        resp = self.user.post(PATHS[kind], json={"apiVersion": "controlplane/v1", "kind": kind,
                                                 "metadata": {"name": name, "project": "shop"}, "spec": body})
        assert resp.status_code == 201, resp.text
        return resp.json()

    def get(self, doc: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """GET the document again: status code and body."""
        resp = self.user.get(f"{PATHS[doc['kind']]}/{doc['id']}")
        return resp.status_code, resp.json()

    def runs(self, doc: dict[str, Any]) -> list[dict[str, Any]]:
        """The guest's runs through ``GET /api/v1/runs``, oldest first."""
        resp = self.user.get("/api/v1/runs", params={"target_id": doc["id"], "sort": "created_at", "limit": 100})
        assert resp.status_code == 200, resp.text
        return sorted(resp.json()["items"], key=lambda r: r["started_at"] or "")

    def log(self, run: dict[str, Any]) -> list[dict[str, Any]]:
        """A run's log through ``GET /api/v1/runs/{id}/log``."""
        resp = self.user.get(f"/api/v1/runs/{run['id']}/log", params={"limit": 10000})
        assert resp.status_code == 200, resp.text
        return resp.json()

    def wait(self, doc: dict[str, Any], check: Callable[[dict[str, Any]], bool], what: str,
             timeout: float = 120.0) -> dict[str, Any]:
        """GET the document until ``check`` holds; on timeout the failure shows its status and runs."""
        def seen() -> dict[str, Any] | None:
            code, body = self.get(doc)
            return body if code == 200 and check(body) else None
        try:
            return wait_for(seen, timeout=timeout, interval=0.2, what=what)
        except TimeoutError as exc:
            code, body = self.get(doc)
            records = self.runs(doc) if code == 200 else []
            runs = [(r["action"], r["state"], (r["error"] or "")[:300]) for r in records]
            tail = [line["line"][:300] for line in self.log(records[-1])[-15:]] if records else []
            raise AssertionError(f"{exc}\nGET: {code} {body.get('status')}\nruns: {runs[-5:]}\n"
                                 "last run's log:\n  " + "\n  ".join(tail)) from exc

    def wait_ready(self, doc: dict[str, Any], generation: int | None = None, **kw: Any) -> dict[str, Any]:
        """Wait until the document is Ready at ``generation`` (default: the one given)."""
        wanted = generation or doc["metadata"]["generation"]
        return self.wait(doc, lambda d: d["status"]["observed_generation"] >= wanted
                         and condition(d, "Ready").get("status") == "True",
                         f"{doc['kind']} {doc['metadata']['name']} Ready at generation {wanted}", **kw)


def set_up(database: Any, vault: Any, toolchain: Any, sim: Any, tmp_path: Path) -> Product:
    """The first admin (as ``controlplane user create`` makes one), then through the API: tenant ``acme``,
    project ``shop``, user ``dev@acme.test`` (a member) and the simulator registered as cluster ``demo``."""
    api = build_api(database, vault)
    seed_user(api.engine, "root@example.test", "admin")
    admin = api.login("root@example.test")
    tenant = admin.post("/api/v1/tenants", json={"name": "acme"})
    assert tenant.status_code == 201, tenant.text
    project = admin.post("/api/v1/projects", json={"name": "shop", "tenant": "acme"})
    assert project.status_code == 201, project.text
    user = admin.post("/api/v1/users", json={"email": "dev@acme.test", "password": PASSWORD, "role": "user",
                                            "tenant": "acme"})
    assert user.status_code == 201, user.text
    member = admin.post(f"/api/v1/projects/{project.json()['id']}/members", json={"user_id": user.json()["id"]})
    assert member.status_code == 201, member.text
    register_sim(admin, sim)
    return Product(api=api, admin=admin, user=api.login("dev@acme.test"), project_id=project.json()["id"],
                   tenant_id=tenant.json()["id"], vault=vault, database=database, toolchain=toolchain,
                   data_dir=tmp_path / "data")
