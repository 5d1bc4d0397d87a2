"""Request limits: a 50 MB body is refused with 413 without being read (in process and over real HTTP with
uvicorn, declared and chunked), ``spec.configure.vars`` with 200,000 keys or a huge value, too many labels
and too deep JSON get 413/422 naming the field, and nothing is stored. Real PostgreSQL and OpenBao."""

from __future__ import annotations

import json
import select
import socket
import time
from typing import Any

from tests.fixtures.api import World, build_api, build_world

FIFTY_MB = 50 * 1024 * 1024


def _names(world: World) -> list[str]:
    return [g["metadata"]["name"] for g in world.acme.member.get("/api/v1/vms").json()["items"]]


def _vars_doc(world: World, name: str, vars_: dict[str, Any]) -> dict[str, Any]:
    return world.vm_doc(name, configure={"playbook": "site.yml", "vars": vars_})


def test_a_50_mb_body_gets_413_naming_the_setting(module_world: World) -> None:
    world = module_world
    resp = world.acme.member.post("/api/v1/vms", content=b"{" + b" " * FIFTY_MB + b"}",
                                  headers={"content-type": "application/json"})
    assert resp.status_code == 413, resp.text[:300]
    assert "CONTROLPLANE_MAX_BODY_BYTES" in resp.json()["detail"]
    assert resp.headers["content-security-policy"]


def _token(world: World) -> str:
    return world.acme.member.headers["Authorization"]


def _read_response(sock: socket.socket, deadline: float) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([sock], [], [], 1)
        if ready:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


def test_over_http_a_declared_50_mb_body_is_refused_before_it_is_sent(module_world: World, live_server: Any) -> None:
    world = module_world
    live = live_server(world.api.app)
    port = int(live.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall((f"POST /api/v1/vms HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {_token(world)}\r\n"
                      f"Content-Type: application/json\r\nContent-Length: {FIFTY_MB}\r\n\r\n{{").encode())
        head = _read_response(sock, time.monotonic() + 30)
    assert head.startswith(b"HTTP/1.1 413"), head[:200]


def test_over_http_a_chunked_body_is_cut_off_after_the_limit(module_world: World, live_server: Any) -> None:
    world = module_world
    live = live_server(world.api.app)
    port = int(live.url.rsplit(":", 1)[1])
    chunk = b" " * 65536
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall((f"POST /api/v1/vms HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {_token(world)}\r\n"
                      "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode())
        deadline = time.monotonic() + 60
        while sent < FIFTY_MB and time.monotonic() < deadline:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        head = _read_response(sock, time.monotonic() + 30)
    assert head.startswith(b"HTTP/1.1 413"), head[:200]
    assert sent < FIFTY_MB // 2, f"the server read {sent} bytes before refusing"


def test_vars_labels_and_nesting_are_bounded(module_world: World) -> None:
    world = module_world
    member = world.acme.member
    huge = {f"k{i:06d}": 1 for i in range(200_000)}
    resp = member.post("/api/v1/vms", json=_vars_doc(world, "huge-vars", huge))
    assert resp.status_code == 413, resp.text[:300]
    for vars_, why in (({f"k{i}": 1 for i in range(257)}, "at most 256 keys"),
                       ({"blob": "x" * 70_000}, "bytes as JSON")):
        resp = member.post("/api/v1/vms", json=_vars_doc(world, "big-vars", vars_))
        assert resp.status_code == 422 and resp.json()["field"] == "spec.configure.vars", resp.text[:300]
        assert why in resp.json()["detail"]
    labels = {f"l{i}": "v" for i in range(65)}
    resp = member.post("/api/v1/vms", json={**world.vm_doc("many-labels"),
                                            "metadata": {"name": "many-labels", "project": "shop", "labels": labels}})
    assert resp.status_code == 422 and resp.json()["field"] == "metadata.labels", resp.text[:300]
    deep: Any = 1
    for _ in range(40):
        deep = {"d": deep}
    resp = member.post("/api/v1/vms", json=_vars_doc(world, "deep-vars", {"deep": deep}))
    assert resp.status_code == 422 and "nested" in resp.json()["detail"], resp.text[:300]
    fine = member.post("/api/v1/vms", json=_vars_doc(world, "fine-vars", {f"k{i}": i for i in range(256)}))
    assert fine.status_code == 201, fine.text[:300]
    assert sorted(_names(world)) == ["fine-vars"]
    vm_id = fine.json()["id"]
    patched = member.patch(f"/api/v1/vms/{vm_id}", json={"spec": {"configure": {"playbook": "site.yml",
                                                                                 "vars": {"blob": "x" * 70_000}}}})
    assert patched.status_code == 422 and patched.json()["field"] == "spec.configure.vars"
    assert len(member.get(f"/api/v1/vms/{vm_id}").json()["spec"]["configure"]["vars"]) == 256


def test_200000_vars_keys_are_refused_by_the_vars_limit_when_the_body_limit_allows_them(
    database: Any, vault: Any, pvesim: Any
) -> None:
    api = build_api(database, vault, max_body_bytes=16 * 1024 * 1024)
    try:
        world = build_world(api, pvesim)
        body = json.dumps(_vars_doc(world, "huge-vars", {f"k{i:06d}": 1 for i in range(200_000)}))
        assert len(body) > 1024 * 1024
        resp = world.acme.member.post("/api/v1/vms", content=body, headers={"content-type": "application/json"})
        assert resp.status_code == 422 and resp.json()["field"] == "spec.configure.vars", resp.text[:300]
        assert _names(world) == []
    finally:
        api.engine.dispose()
