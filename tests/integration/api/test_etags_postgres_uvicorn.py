"""Optimistic concurrency beyond the guests: tenants, projects, users, clusters and API keys carry a
``resource_version`` that reads send as the ``ETag``; a write with that ETag in ``If-Match`` succeeds and
changes it, a stale one is 412 and changes nothing, and of two writers holding the same ETag exactly one
wins, also when both are already inside the server when the row frees up (real uvicorn, threads, a row
lock held by the test so that both requests wait at the same statement).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from controlplane.db.embedded import DatabaseUrls
from controlplane.db.engine import RequestContext, session_scope
from controlplane.models.cluster import ClusterCreate
from controlplane.services import clusters
from controlplane.util.net import wait_for
from tests.fixtures.api import OPERATOR, PASSWORD, World

Made = tuple[str, httpx.Response]
"""The URL of a fresh object and the response that created it."""


def _new_tenant(world: World, sim: Any) -> Made:
    created = world.admin.post("/api/v1/tenants", json={"name": f"t{uuid.uuid4().hex[:8]}"})
    return f"/api/v1/tenants/{created.json()['id']}", created


def _new_project(world: World, sim: Any) -> Made:
    created = world.admin.post("/api/v1/projects", json={"name": f"p{uuid.uuid4().hex[:8]}", "tenant": "acme"})
    return f"/api/v1/projects/{created.json()['id']}", created


def _new_user(world: World, sim: Any) -> Made:
    created = world.admin.post("/api/v1/users", json={
        "email": f"u{uuid.uuid4().hex[:8]}@acme.test", "password": PASSWORD, "role": "user", "tenant": "acme",
    })
    return f"/api/v1/users/{created.json()['id']}", created


def _new_cluster(world: World, sim: Any) -> Made:
    created = world.admin.post("/api/v1/clusters", json=_cluster_body(sim, f"c{uuid.uuid4().hex[:8]}"))
    return f"/api/v1/clusters/{created.json()['id']}", created


def _new_key(world: World, sim: Any) -> Made:
    created = world.acme.member.post("/api/v1/api-keys", json={"name": "automation"})
    return f"/api/v1/api-keys/{created.json()['id']}", created


def _cluster_body(sim: Any, name: str) -> dict[str, Any]:
    return {"name": name, "endpoint": sim.url, "token_id": sim.token_id, "token_secret": sim.token_secret,
            "verify_tls": True, "ca_cert_pem": Path(sim.ca_file).read_text()}


def _reregister(world: World, sim: Any, url: str, etag: str) -> None:
    """Register the cluster again in place, as ``controlplane up`` does: a write that bumps its version."""
    name = world.admin.get(url).json()["name"]
    runtime = world.api.app.state.runtime
    with session_scope(world.api.engine, RequestContext(role="admin")) as session:
        clusters.register(session, OPERATOR, ClusterCreate(**_cluster_body(sim, name)), runtime.deps.vault,
                          runtime.prober, replace=True)


@dataclass(frozen=True)
class Resource:
    """One mutable resource: how to make one, who writes it, and what its writes are."""

    name: str
    table: str
    make: Callable[[World, Any], Made]
    client: Callable[[World], TestClient]
    body: Callable[[int], dict[str, Any]] | None
    """The n-th PATCH body (each one different); None where DELETE is the only write."""
    value: Callable[[dict[str, Any]], Any]
    """What the writes change, as read back."""
    bump: Callable[[World, Any, str, str], None] | None = None
    """(world, sim, url, etag): a write that changes the version without removing the object, where PATCH
    does not exist."""
    single_get: bool = True
    """Whether ``GET url`` exists (API keys are only listed)."""

    def writes(self, n: int) -> list[tuple[str, dict[str, Any] | None]]:
        """The writes that must honour If-Match: PATCH (where it exists) and DELETE."""
        return ([("PATCH", self.body(n))] if self.body else []) + [("DELETE", None)]

    def first_write(self, n: int) -> tuple[str, dict[str, Any] | None]:
        """The write the concurrency test races (PATCH where it exists, otherwise DELETE)."""
        return self.writes(n)[0]

    def read(self, world: World, url: str) -> tuple[str, dict[str, Any]] | None:
        """The object's ETag and document as its writer sees them (None once it is gone)."""
        client = self.client(world)
        if not self.single_get:  # the list carries the version
            key_id = url.rsplit("/", 1)[1]
            items = [k for k in client.get("/api/v1/api-keys").json()["items"] if k["id"] == key_id]
            return (f'"{items[0]["resource_version"]}"', items[0]) if items else None
        got = client.get(url)
        if got.status_code == 404:
            return None
        assert got.status_code == 200, got.text
        assert got.headers["ETag"] == f'"{got.json()["resource_version"]}"'
        return got.headers["ETag"], got.json()


RESOURCES = [
    Resource("tenants", "tenants", _new_tenant, lambda w: w.admin, lambda n: {"display_name": f"Name {n}"},
             lambda d: d["display_name"]),
    Resource("projects", "projects", _new_project, lambda w: w.acme.manager, lambda n: {"description": f"v{n}"},
             lambda d: d["description"]),
    Resource("users", "users", _new_user, lambda w: w.admin, lambda n: {"role": "manager" if n % 2 else "user"},
             lambda d: d["role"]),
    Resource("clusters", "clusters", _new_cluster, lambda w: w.admin, None, lambda d: d["name"],
             bump=_reregister),
    Resource("api-keys", "api_keys", _new_key, lambda w: w.acme.member, None, lambda d: d["revoked_at"],
             bump=lambda w, sim, url, etag: _expect(_send(w.acme.member, "DELETE", url, None, etag), 200),
             single_get=False),
]
by_name = pytest.mark.parametrize("res", RESOURCES, ids=[r.name for r in RESOURCES])


def _send(client: TestClient, method: str, url: str, body: dict[str, Any] | None, etag: str) -> httpx.Response:
    return client.request(method, url, json=body, headers={"If-Match": etag})


def _expect(resp: httpx.Response, code: int) -> None:
    assert resp.status_code == code, resp.text


def _bump(world: World, sim: Any, res: Resource, url: str, etag: str) -> None:
    """Change the object once with the current ETag (so that ETag becomes stale)."""
    if res.body is not None:
        _expect(_send(res.client(world), "PATCH", url, res.body(1), etag), 200)
    else:
        assert res.bump is not None
        res.bump(world, sim, url, etag)


@by_name
def test_get_and_create_send_the_version_as_etag(world: World, pvesim: Any, res: Resource) -> None:
    url, created = res.make(world, pvesim)
    assert created.status_code == 201, created.text
    assert created.headers["ETag"] == '"1"' and created.json()["resource_version"] == 1
    read = res.read(world, url)
    assert read is not None and read[0] == '"1"'


@by_name
def test_write_with_the_current_etag_succeeds_and_changes_it(world: World, pvesim: Any, res: Resource) -> None:
    url, _ = res.make(world, pvesim)
    read = res.read(world, url)
    assert read is not None
    method, body = res.first_write(1)
    resp = _send(res.client(world), method, url, body, read[0])
    assert resp.status_code in (200, 204), resp.text
    after = res.read(world, url)
    if resp.status_code == 204:  # deleted: nothing left to version
        assert after is None
        return
    assert after is not None and resp.headers["ETag"] == after[0] != read[0]
    assert resp.json()["resource_version"] == read[1]["resource_version"] + 1
    assert res.value(after[1]) == res.value(resp.json()) != res.value(read[1])
    method, body = res.first_write(2)
    unconditional = _send(res.client(world), method, url, body, "*")
    assert unconditional.status_code == 200 and unconditional.headers["ETag"] not in (read[0], after[0])


@by_name
def test_stale_etag_is_412_and_changes_nothing(world: World, pvesim: Any, res: Resource) -> None:
    url, _ = res.make(world, pvesim)
    first = res.read(world, url)
    assert first is not None
    stale = first[0]
    _bump(world, pvesim, res, url, stale)
    current = res.read(world, url)
    assert current is not None and current[0] != stale
    for method, body in res.writes(2):
        resp = _send(res.client(world), method, url, body, stale)
        assert resp.status_code == 412, (method, resp.text)
    assert res.read(world, url) == current


def _lock_waiters(database: DatabaseUrls, table: str) -> int:
    """How many statements on ``table`` wait for a row lock right now."""
    with psycopg.connect(database.superuser, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            " AND (query LIKE %s OR query LIKE %s)", (f"UPDATE {table} SET%", f"DELETE FROM {table} WHERE%"),
        ).fetchone()
    return int(row[0]) if row else 0


def _race(live_url: str, auth: str, writes: list[tuple[str, dict[str, Any] | None]], url: str, etag: str,
          hold: Callable[[], None]) -> list[httpx.Response]:
    """Send ``writes`` at once over real HTTP, each with If-Match ``etag``; ``hold`` returns once both wait,
    and frees the row."""

    def send(write: tuple[str, dict[str, Any] | None]) -> httpx.Response:
        with httpx.Client(base_url=live_url, headers={"Authorization": auth}, timeout=60) as client:
            return client.request(write[0], url, json=write[1], headers={"If-Match": etag})

    with ThreadPoolExecutor(max_workers=len(writes)) as pool:
        futures: list[Future[httpx.Response]] = [pool.submit(send, w) for w in writes]
        hold()
        return [f.result() for f in futures]


@by_name
def test_two_writers_with_one_etag_exactly_one_wins(world: World, pvesim: Any, database: DatabaseUrls,
                                                     live_server: Any, res: Resource) -> None:
    url, _ = res.make(world, pvesim)
    read = res.read(world, url)
    assert read is not None
    live = live_server(world.api.app)
    writes = [res.first_write(1), res.first_write(2)]

    with psycopg.connect(database.superuser) as holder:
        holder.execute(f"SELECT 1 FROM {res.table} WHERE id = %s FOR UPDATE", (url.rsplit("/", 1)[1],))

        def hold() -> None:
            try:
                wait_for(lambda: _lock_waiters(database, res.table) == len(writes), timeout=120,
                         what=f"both writers of {res.name} to wait for the row")
            finally:
                holder.commit()  # free the row even when waiting failed, so the writers can finish

        responses = _race(live.url, res.client(world).headers["Authorization"], writes, url, read[0], hold)

    codes = [r.status_code for r in responses]
    winners = [i for i, r in enumerate(responses) if r.status_code in (200, 204)]
    assert len(winners) == 1 and codes.count(412) == 1, [r.text for r in responses]
    after = res.read(world, url)
    if codes[winners[0]] == 204:
        assert after is None
        return
    assert after is not None and after[0] == responses[winners[0]].headers["ETag"] == '"2"'
    assert res.value(after[1]) == res.value(responses[winners[0]].json())
