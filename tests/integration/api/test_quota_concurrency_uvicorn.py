"""Quotas hold under concurrency: parallel creates over real HTTP (uvicorn, threads) never exceed a quota."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.fixtures.api import PASSWORD, World

PARALLEL = 16


def _create_all(url: str, token: str, docs: list[dict[str, Any]], path: str = "/api/v1/vms") -> list[int]:
    def create(doc: dict[str, Any]) -> int:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
            return client.post(path, json=doc).status_code

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        return list(pool.map(create, docs))


def _token(world: World, email: str) -> str:
    resp = world.api.client().post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    return str(resp.json()["access_token"])


def test_parallel_creates_never_exceed_the_guest_quota(world: World, live_server: Any) -> None:
    project = f"/api/v1/projects/{world.acme.project_id}"
    assert world.admin.patch(project, json={"quota": {"guests": 5}}).status_code == 200
    live = live_server(world.api.app)
    docs = [world.vm_doc(f"vm-{i}") for i in range(PARALLEL)]
    codes = _create_all(live.url, _token(world, "member@acme.test"), docs)
    assert sorted(codes) == [201] * 5 + [409] * (PARALLEL - 5), codes
    assert world.acme.member.get(f"{project}/usage").json()["guests"] == 5


def test_parallel_creates_of_both_kinds_never_exceed_the_vcpu_quota(world: World, live_server: Any) -> None:
    project = f"/api/v1/projects/{world.acme.project_id}"
    assert world.admin.patch(project, json={"quota": {"vcpus": 7}}).status_code == 200
    live = live_server(world.api.app)
    token = _token(world, "member@acme.test")
    vms = [world.vm_doc(f"vm-{i}", cores=2) for i in range(PARALLEL // 2)]
    cts = [world.vm_doc(f"ct-{i}", cores=2) | {"kind": "Container"} for i in range(PARALLEL // 2)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        a = pool.submit(_create_all, live.url, token, vms)
        b = pool.submit(_create_all, live.url, token, cts, "/api/v1/containers")
        codes = a.result() + b.result()
    assert codes.count(201) == 3 and codes.count(409) == PARALLEL - 3, codes
    assert world.acme.member.get(f"{project}/usage").json()["vcpus"] == 6
