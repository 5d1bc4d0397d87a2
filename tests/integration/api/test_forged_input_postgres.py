"""Forged input never reaches PostgreSQL as a 500: cursors whose values have the wrong type, and NUL
characters in paths, queries and bodies, get 422 naming the parameter, with a JWT and with an API key, and
the audit log keeps working. Real PostgreSQL and OpenBao behind the app."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest

from tests.fixtures.api import World

LISTS = ["tenants", "projects", "users", "api-keys", "clusters", "vms", "containers", "runs", "audit"]
SORTS = ["created_at", "-created_at", "name", "-name"]


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


WHEN = {"dt": "2026-01-01T00:00:00+00:00"}
VALID = {"datetime": WHEN, "text": "m", "int": 5}
WRONG_VALUES = {
    "datetime": ["x", {"dt": "yesterday"}, {"dt": 5}, {}, 12, ["a"], True],
    "text": [5, True, 1.5, "a\u0000b", {"k": "v"}, ["a"]],
    "int": ["x", 1.5, True, 10**30, WHEN, ["a"]],
}
WRONG_IDS = ["not-an-id", 10**30, None, ["x"], {"a": 1}, 1.5]
MALFORMED = [{"created_at": 1, "x": 2, "y": 3}, "abc", [], [1, 2], [1, 2, 3, 4], None]


def _kind_of(key: str) -> str:
    key = key.lstrip("-")
    return "datetime" if key.endswith("_at") else "int" if key == "id" else "text"


def _forged(key: str) -> list[Any]:
    kind = _kind_of(key)
    return ([[key, wrong, str(uuid.uuid4())] for wrong in WRONG_VALUES[kind]]
            + [[key, VALID[kind], wrong] for wrong in WRONG_IDS] + MALFORMED)


def _sorts_of(client: Any, name: str) -> list[str]:
    """The sort keys this list accepts (from the 422 that names them)."""
    resp = client.get(f"/api/v1/{name}", params={"sort": "nope"})
    assert resp.status_code == 422 and resp.json()["field"] == "sort", resp.text
    return [k.strip() for k in resp.json()["detail"].split("one of:")[1].split(",")]


@pytest.mark.parametrize("name", LISTS)
def test_forged_cursors_get_422_naming_the_cursor_on_every_list(module_world: World, name: str) -> None:
    client = module_world.admin
    for key in _sorts_of(client, name):
        for forged in _forged(key):
            resp = client.get(f"/api/v1/{name}", params={"sort": key, "cursor": _cursor(forged)})
            assert resp.status_code == 422, (name, key, forged, resp.status_code, resp.text)
            assert resp.json()["field"] == "cursor"
    garbage = client.get(f"/api/v1/{name}", params={"cursor": "%%%not-base64"})
    assert garbage.status_code == 422 and garbage.json()["field"] == "cursor"


def test_issued_cursors_still_page_through_every_row(module_world: World) -> None:
    world = module_world
    for i in range(5):
        assert world.acme.member.post("/api/v1/vms", json=world.vm_doc(f"page-{i}")).status_code == 201
    for name, sort in (("vms", "created_at"), ("vms", "-name"), ("audit", "-created_at"), ("audit", "id")):
        seen: list[str] = []
        cursor = None
        for _ in range(100):
            params: dict[str, Any] = {"limit": 2, "sort": sort}
            if cursor:
                params["cursor"] = cursor
            page = world.admin.get(f"/api/v1/{name}", params=params)
            assert page.status_code == 200, page.text
            seen += [str(item["id"]) for item in page.json()["items"]]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
        total = world.admin.get(f"/api/v1/{name}", params={"limit": 500}).json()["items"]
        assert sorted(seen) == sorted(str(item["id"]) for item in total) and len(seen) == len(set(seen))


def test_nul_in_path_query_and_body_gets_422_and_auditing_goes_on(world: World) -> None:
    created = world.acme.member.post("/api/v1/api-keys", json={"name": "nul-probe"})
    assert created.status_code == 201, created.text
    for who, client in (("api-key", world.api.client(created.json()["key"])), ("jwt", world.acme.member)):
        _attack_with_nul(world, who, client)


def _attack_with_nul(world: World, who: str, client: Any) -> None:
    vm = client.post("/api/v1/vms", json=world.vm_doc(f"nul-{who}"))
    assert vm.status_code == 201, vm.text
    vm_id = vm.json()["id"]
    attempts = [
        (client.get("/api/v1/vms/%00"), "path"),
        (client.get(f"/api/v1/vms/{vm_id}%00"), "path"),
        (client.delete("/api/v1/vms/abc%00def"), "path"),
        (client.get("/api/v1/vms", params={"name": "web\x00"}), "query"),
        (client.get("/api/v1/vms?name=%00"), "query"),
        (client.get("/api/v1/audit", params={"action": "\x00"}), "query"),
        (client.post("/api/v1/vms", json=world.vm_doc("x", image="debian\x00")), "spec.image"),
        (client.patch(f"/api/v1/vms/{vm_id}", json={"labels": {"tier": "a\x00"}}), "labels.tier"),
        (client.patch(f"/api/v1/vms/{vm_id}", json={"labels": {"t\x00": "a"}}), "labels"),
        (client.patch(f"/api/v1/vms/{vm_id}", json={"spec": {"configure": {"playbook": "site.yml",
                                                                           "vars": {"k": ["ok", "\x00"]}}}}),
         "spec.configure.vars.k.1"),
    ]
    for resp, field in attempts:
        assert resp.status_code == 422, (field, resp.status_code, resp.text)
        assert resp.json()["field"] == field, resp.text
    after = client.get(f"/api/v1/vms/{vm_id}").json()
    assert after["metadata"]["labels"] == {"tier": "web"} and after["spec"]["image"] == "debian-12"
    assert after["metadata"]["resource_version"] == 1
    audit = world.acme.manager.get("/api/v1/audit", params={"limit": 500})
    assert audit.status_code == 200
    assert any(e["action"] == "vm.create" for e in audit.json()["items"])


def test_nul_in_a_login_body_is_refused(module_world: World) -> None:
    world = module_world
    resp = world.api.client().post("/api/v1/auth/login", json={"email": "member@acme.test\x00", "password": "x"})
    assert resp.status_code == 422 and resp.json()["field"] == "email"
    assert world.api.client().post("/api/v1/auth/login",
                                   json={"email": "member@acme.test", "password": "x"}).status_code == 401
    form = world.api.client().post("/api/v1/auth/login", data={"email": "member@acme.test", "password": "a\x00"})
    assert form.status_code == 422 and form.json()["field"] == "body"
