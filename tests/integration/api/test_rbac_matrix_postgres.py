"""The generated access matrix: every ``/api/v1`` endpoint, role (admin, manager, user) and target in the
caller's own tenant or the other tenant. Each case checks the status code and that no identifier of the
other tenant appears in the response body (admins excepted: they see every tenant).

Targets that a successful call would destroy are created fresh for each case, so cases are independent.
A route missing from ``ENDPOINTS`` fails ``test_matrix_covers_every_endpoint``.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from controlplane.drivers.vault import VaultStore
from tests.fixtures.api import PASSWORD, Tenant, World, build_api, build_world, register_sim
from tests.fixtures.postgres import create_database

ROLES = ("admin", "manager", "user")
SIDES = ("own", "other")


@dataclass
class Ctx:
    """The module's world plus helpers to make fresh targets."""

    world: World
    sim: Any
    runs: dict[str, uuid.UUID]
    vms: dict[str, str]

    def tenant(self, side: str) -> Tenant:
        return self.world.acme if side == "own" else self.world.globex

    def fresh_vm(self, side: str, kind: str = "vms") -> str:
        tenant = self.tenant(side)
        doc = self.world.vm_doc(f"{tenant.name}-x{uuid.uuid4().hex[:8]}")
        doc["metadata"] = {"name": doc["metadata"]["name"], "project_id": str(tenant.project_id)}
        if kind == "containers":
            doc["kind"] = "Container"
        resp = self.world.admin.post(f"/api/v1/{kind}", json=doc)
        assert resp.status_code == 201, resp.text
        return str(resp.json()["id"])

    def fresh_project(self, side: str, member: uuid.UUID | None = None) -> str:
        tenant = self.tenant(side)
        resp = self.world.admin.post("/api/v1/projects", json={"name": f"p{uuid.uuid4().hex[:8]}",
                                                               "tenant_id": str(tenant.id)})
        assert resp.status_code == 201, resp.text
        if member is not None:
            added = self.world.admin.post(f"/api/v1/projects/{resp.json()['id']}/members",
                                          json={"user_id": str(member)})
            assert added.status_code == 201, added.text
        return str(resp.json()["id"])

    def fresh_user(self, side: str) -> str:
        tenant = self.tenant(side)
        resp = self.world.admin.post("/api/v1/users", json={"email": f"{tenant.name}-{uuid.uuid4().hex[:8]}@x.test",
                                                            "password": PASSWORD, "tenant_id": str(tenant.id)})
        assert resp.status_code == 201, resp.text
        return str(resp.json()["id"])

    def fresh_key(self, side: str) -> str:
        resp = self.tenant(side).member.post("/api/v1/api-keys", json={"name": "k"})
        assert resp.status_code == 201, resp.text
        return str(resp.json()["id"])

    def fresh_tenant(self) -> str:
        resp = self.world.admin.post("/api/v1/tenants", json={"name": f"t{uuid.uuid4().hex[:8]}"})
        assert resp.status_code == 201, resp.text
        return str(resp.json()["id"])

    def fresh_cluster(self) -> str:
        return str(register_sim(self.world.admin, self.sim, f"c{uuid.uuid4().hex[:8]}")["id"])

    def fresh_source(self, side: str) -> str:
        resp = self.world.admin.post("/api/v1/git-sources", json={
            "name": f"s{uuid.uuid4().hex[:8]}", "tenant_id": str(self.tenant(side).id),
            "url": "https://git.example.test/infra.git"})
        assert resp.status_code == 201, resp.text
        return str(resp.json()["id"])


Make = Callable[[Ctx, str, str], tuple[dict[str, str], Any]]
"""(ctx, role, side) → (path parameters, JSON body or None)."""


@dataclass(frozen=True)
class Endpoint:
    """One route with how to build a request and the expected (own, other) status per role."""

    method: str
    path: str
    make: Make
    expect: dict[str, tuple[int, int]]


def none(_ctx: Ctx, _role: str, _side: str) -> tuple[dict[str, str], Any]:
    return {}, None


def same(code: int) -> dict[str, tuple[int, int]]:
    return {role: (code, code) for role in ROLES}


def scoped(admin: int, manager: tuple[int, int], user: tuple[int, int]) -> dict[str, tuple[int, int]]:
    return {"admin": (admin, admin), "manager": manager, "user": user}


def tenant_id(ctx: Ctx, _role: str, side: str) -> tuple[dict[str, str], Any]:
    return {"tenant_id": str(ctx.tenant(side).id)}, None


def project_id(ctx: Ctx, _role: str, side: str) -> tuple[dict[str, str], Any]:
    return {"project_id": str(ctx.tenant(side).project_id)}, None


def guest_endpoints(kind: str) -> list[Endpoint]:
    base = f"/api/v1/{kind}"

    def shared(ctx: Ctx, _role: str, side: str) -> tuple[dict[str, str], Any]:
        return {"guest_id": ctx.vms[f"{kind}:{side}"]}, None

    def fresh(ctx: Ctx, _role: str, side: str) -> tuple[dict[str, str], Any]:
        return {"guest_id": ctx.fresh_vm(side, kind)}, None

    def create(ctx: Ctx, _role: str, side: str) -> tuple[dict[str, str], Any]:
        tenant = ctx.tenant(side)
        doc = ctx.world.vm_doc(f"{tenant.name}-n{uuid.uuid4().hex[:8]}")
        doc["metadata"] = {"name": doc["metadata"]["name"], "project_id": str(tenant.project_id)}
        doc["kind"] = "Container" if kind == "containers" else "VirtualMachine"
        return {}, doc

    def replace(ctx: Ctx, role: str, side: str) -> tuple[dict[str, str], Any]:
        params, _ = shared(ctx, role, side)
        current = ctx.world.admin.get(f"{base}/{params['guest_id']}").json()
        return params, current

    read = scoped(200, (200, 404), (200, 404))
    return [
        Endpoint("GET", base, none, same(200)),
        Endpoint("POST", base, create, scoped(201, (201, 422), (201, 422))),
        Endpoint("GET", base + "/{guest_id}", shared, read),
        Endpoint("PUT", base + "/{guest_id}", replace, read),
        Endpoint("PATCH", base + "/{guest_id}", lambda c, r, s: (shared(c, r, s)[0], {"labels": {"x": "y"}}), read),
        Endpoint("DELETE", base + "/{guest_id}", fresh, scoped(202, (202, 404), (202, 404))),
        Endpoint("POST", base + "/{guest_id}/actions/{action}",
                 lambda c, r, s: ({**fresh(c, r, s)[0], "action": "stop"}, None), scoped(202, (202, 404), (202, 404))),
        Endpoint("POST", base + "/{guest_id}/assign", lambda c, r, s: (fresh(c, r, s)[0], {"user_id": None}),
                 scoped(200, (200, 404), (403, 404))),
        Endpoint("POST", base + "/{guest_id}/abandon", fresh, scoped(200, (403, 404), (403, 404))),
    ]


def _source(ctx: Ctx, _role: str, side: str) -> tuple[dict[str, str], Any]:
    return {"source_id": ctx.fresh_source(side)}, None


def _apply(ctx: Ctx, _role: str, side: str) -> tuple[dict[str, str], Any]:
    tenant = ctx.tenant(side)
    doc = ctx.world.vm_doc(f"{tenant.name}-g{uuid.uuid4().hex[:8]}")
    doc["kind"] = "VirtualMachine"
    return {}, {"source": f"cli{uuid.uuid4().hex[:6]}", "documents": [{"file": "vm.yaml", "document": doc}]}


def _run(ctx: Ctx, _role: str, side: str) -> tuple[dict[str, str], Any]:
    return {"run_id": str(ctx.runs[side])}, None


ENDPOINTS: list[Endpoint] = [
    Endpoint("GET", "/api/v1/tenants", none, same(200)),
    Endpoint("POST", "/api/v1/tenants", lambda c, r, s: ({}, {"name": f"t{uuid.uuid4().hex[:8]}"}),
             scoped(201, (403, 403), (403, 403))),
    Endpoint("GET", "/api/v1/tenants/{tenant_id}", tenant_id, scoped(200, (200, 404), (200, 404))),
    Endpoint("PATCH", "/api/v1/tenants/{tenant_id}", lambda c, r, s: (tenant_id(c, r, s)[0], {"display_name": "X"}),
             scoped(200, (200, 404), (403, 404))),
    Endpoint("DELETE", "/api/v1/tenants/{tenant_id}",
             lambda c, r, s: ({"tenant_id": c.fresh_tenant()} if r == "admin" else tenant_id(c, r, s)[0], None),
             scoped(204, (403, 404), (403, 404))),
    Endpoint("GET", "/api/v1/projects", none, same(200)),
    Endpoint("POST", "/api/v1/projects",
             lambda c, r, s: ({}, {"name": f"p{uuid.uuid4().hex[:8]}", "tenant_id": str(c.tenant(s).id)}),
             scoped(201, (201, 422), (403, 422))),
    Endpoint("GET", "/api/v1/projects/{project_id}", project_id, scoped(200, (200, 404), (200, 404))),
    Endpoint("GET", "/api/v1/projects/{project_id}/usage", project_id, scoped(200, (200, 404), (200, 404))),
    Endpoint("PATCH", "/api/v1/projects/{project_id}",
             lambda c, r, s: (project_id(c, r, s)[0], {"description": "d"}), scoped(200, (200, 404), (403, 404))),
    Endpoint("DELETE", "/api/v1/projects/{project_id}",
             lambda c, r, s: ({"project_id": c.fresh_project(s, c.tenant(s).member_id)}, None),
             scoped(204, (204, 404), (403, 404))),
    Endpoint("GET", "/api/v1/projects/{project_id}/members", project_id, scoped(200, (200, 404), (200, 404))),
    Endpoint("POST", "/api/v1/projects/{project_id}/members",
             lambda c, r, s: ({"project_id": c.fresh_project(s, c.tenant(s).member_id)},
                              {"user_id": str(c.tenant(s).outsider_id)}),
             scoped(201, (201, 404), (403, 404))),
    Endpoint("DELETE", "/api/v1/projects/{project_id}/members/{user_id}",
             lambda c, r, s: ({"project_id": c.fresh_project(s, c.tenant(s).member_id),
                               "user_id": str(c.tenant(s).member_id)}, None),
             scoped(204, (204, 404), (403, 404))),
    Endpoint("GET", "/api/v1/users", none, same(200)),
    Endpoint("POST", "/api/v1/users",
             lambda c, r, s: ({}, {"email": f"n{uuid.uuid4().hex[:8]}@x.test", "password": PASSWORD,
                                   "tenant_id": str(c.tenant(s).id)}),
             scoped(201, (201, 422), (403, 422))),
    Endpoint("GET", "/api/v1/users/{user_id}", lambda c, r, s: ({"user_id": str(c.tenant(s).outsider_id)}, None),
             scoped(200, (200, 404), (404, 404))),
    Endpoint("PATCH", "/api/v1/users/{user_id}",
             lambda c, r, s: ({"user_id": str(c.tenant(s).outsider_id)}, {"is_active": True}),
             scoped(200, (200, 404), (404, 404))),
    Endpoint("DELETE", "/api/v1/users/{user_id}", lambda c, r, s: ({"user_id": c.fresh_user(s)}, None),
             scoped(204, (204, 404), (404, 404))),
    Endpoint("GET", "/api/v1/api-keys", none, same(200)),
    Endpoint("POST", "/api/v1/api-keys", lambda c, r, s: ({}, {"name": "mine"}), same(201)),
    Endpoint("DELETE", "/api/v1/api-keys/{key_id}", lambda c, r, s: ({"key_id": c.fresh_key(s)}, None),
             scoped(200, (200, 404), (200, 404))),
    Endpoint("GET", "/api/v1/clusters", none, same(200)),
    Endpoint("POST", "/api/v1/clusters",
             lambda c, r, s: ({}, {"name": f"c{uuid.uuid4().hex[:8]}", "endpoint": c.sim.url,
                                   "token_id": c.sim.token_id, "token_secret": c.sim.token_secret,
                                   "ca_cert_pem": Path(c.sim.ca_file).read_text()}),
             scoped(201, (403, 403), (403, 403))),
    Endpoint("GET", "/api/v1/clusters/{cluster_id}", lambda c, r, s: ({"cluster_id": str(c.world.cluster_id)}, None),
             same(200)),
    Endpoint("DELETE", "/api/v1/clusters/{cluster_id}",
             lambda c, r, s: ({"cluster_id": c.fresh_cluster() if r == "admin" else str(c.world.cluster_id)}, None),
             scoped(204, (403, 403), (403, 403))),
    *guest_endpoints("vms"),
    *guest_endpoints("containers"),
    Endpoint("GET", "/api/v1/runs", none, same(200)),
    Endpoint("GET", "/api/v1/runs/{run_id}", _run, scoped(200, (200, 404), (200, 404))),
    Endpoint("GET", "/api/v1/runs/{run_id}/log", _run, scoped(200, (200, 404), (200, 404))),
    Endpoint("GET", "/api/v1/audit", none, same(200)),
    Endpoint("GET", "/api/v1/git-sources", none, same(200)),
    Endpoint("POST", "/api/v1/git-sources",
             lambda c, r, s: ({}, {"name": f"s{uuid.uuid4().hex[:8]}", "tenant_id": str(c.tenant(s).id),
                                   "url": "https://git.example.test/infra.git"}),
             scoped(201, (201, 422), (403, 422))),
    Endpoint("GET", "/api/v1/git-sources/{source_id}", _source, scoped(200, (200, 404), (404, 404))),
    Endpoint("PATCH", "/api/v1/git-sources/{source_id}", lambda c, r, s: (_source(c, r, s)[0], {"suspended": True}),
             scoped(200, (200, 404), (404, 404))),
    Endpoint("DELETE", "/api/v1/git-sources/{source_id}", _source, scoped(204, (204, 404), (404, 404))),
    Endpoint("POST", "/api/v1/git-sources/{source_id}/webhook", _source, same(401)),
    # documents name their project; "shop" exists in both tenants, so an admin's apply is ambiguous (422) and a
    # member's lands in the member's own tenant whichever side the guest is named after
    Endpoint("POST", "/api/v1/gitops/apply", _apply, scoped(422, (200, 200), (200, 200))),
    Endpoint("GET", "/api/v1/gitops/projects", none, same(200)),
]


def _other_tenant_markers(ctx: Ctx, owner_url: str) -> list[str]:
    """Every id and name that belongs to the other tenant (globex)."""
    b = ctx.world.globex.id
    markers = {str(b)}
    with psycopg.connect(owner_url) as conn:
        for table, cols in (("projects", "id"), ("users", "id, email"), ("virtual_machines", "id, name"),
                            ("containers", "id, name"), ("api_keys", "id, prefix"), ("runs", "id"),
                            ("memberships", "id")):
            for row in conn.execute(f"SELECT {cols} FROM {table} WHERE tenant_id = %s", (b,)):
                markers.update(str(v) for v in row)
    return sorted(markers)


@pytest.fixture(scope="module")
def ctx(pg_server: Any, pg_template: str, vault_server: Any, pvesim: Any) -> Iterator[tuple[Ctx, str]]:
    database = create_database(pg_server, pg_template)
    api = build_api(database, VaultStore(vault_server.addr, vault_server.token))
    world = build_world(api, pvesim)
    context = Ctx(world=world, sim=pvesim, runs={}, vms={})
    for side in SIDES:
        for kind in ("vms", "containers"):
            context.vms[f"{kind}:{side}"] = context.fresh_vm(side, kind)
        run_id = uuid.uuid4()
        with psycopg.connect(database.owner, autocommit=True) as conn:
            conn.execute("INSERT INTO runs (id, tenant_id, target_kind, target_id, target_name, action) "
                         "VALUES (%s, %s, 'VirtualMachine', %s, 'x', 'apply')",
                         (run_id, context.tenant(side).id, context.vms[f"vms:{side}"]))
            conn.execute("INSERT INTO run_log_entries (run_id, seq, tenant_id, line) VALUES (%s, 1, %s, 'ok')",
                         (run_id, context.tenant(side).id))
        context.runs[side] = run_id
    yield context, database.owner
    for client in api.clients:
        client.close()
    api.engine.dispose()


def _client(ctx: Ctx, role: str) -> TestClient:
    return {"admin": ctx.world.admin, "manager": ctx.world.acme.manager, "user": ctx.world.acme.member}[role]


def test_matrix_covers_every_endpoint(ctx: tuple[Ctx, str]) -> None:
    paths = ctx[0].world.api.app.openapi()["paths"]
    routes = {(method.upper(), path) for path, ops in paths.items() for method in ops
              if path.startswith("/api/v1/") and not path.startswith("/api/v1/auth/")}
    assert len(routes) > 40
    assert routes == {(e.method, e.path) for e in ENDPOINTS}


@pytest.mark.parametrize(
    ("endpoint", "role", "side"),
    [pytest.param(e, r, s, id=f"{e.method} {e.path} {r} {s}")
     for e, r, s in itertools.product(ENDPOINTS, ROLES, SIDES)],
)
def test_access(ctx: tuple[Ctx, str], endpoint: Endpoint, role: str, side: str) -> None:
    context, owner_url = ctx
    params, body = endpoint.make(context, role, side)
    path = endpoint.path.format(**params)
    resp = _client(context, role).request(endpoint.method, path, json=body)
    expected = endpoint.expect[role][0 if side == "own" else 1]
    assert resp.status_code == expected, (resp.status_code, resp.text[:300])
    if role != "admin":
        text = resp.text
        leaked = [m for m in _other_tenant_markers(context, owner_url) if m in text]
        assert not leaked, leaked
