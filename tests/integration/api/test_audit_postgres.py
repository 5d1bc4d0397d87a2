"""Audit: every mutation, login (success and failure) and API key use writes an event with actor, tenant,
action, target, result, IP, user agent, request id and time; events are searchable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.fixtures.api import World


def _events(world: World, **params: object) -> list[dict[str, object]]:
    resp = world.admin.get("/api/v1/audit", params={"limit": 500, **params})
    assert resp.status_code == 200, resp.text
    return list(resp.json()["items"])


def test_mutations_and_logins_are_audited_with_request_metadata(world: World) -> None:
    headers = {"User-Agent": "audit-test/1.0", "X-Request-ID": "req-12345"}
    vm = world.acme.member.post("/api/v1/vms", json=world.vm_doc("web-1"), headers=headers)
    assert vm.status_code == 201 and vm.headers["X-Request-ID"] == "req-12345"
    world.acme.member.post(f"/api/v1/vms/{vm.json()['id']}/actions/stop")
    world.acme.member.delete(f"/api/v1/vms/{vm.json()['id']}")
    world.api.client().post("/api/v1/auth/login", json={"email": "member@acme.test", "password": "wrong password!"})
    created = _events(world, action="vm.create")
    assert len(created) == 1
    event = created[0]
    assert event["actor"] == "member@acme.test" and event["actor_id"] == str(world.acme.member_id)
    assert event["tenant_id"] == str(world.acme.id) and event["target_id"] == vm.json()["id"]
    assert event["target_name"] == "web-1" and event["result"] == "success" and event["target_kind"] == "VirtualMachine"
    assert event["ip"] == "testclient" and event["user_agent"] == "audit-test/1.0"
    assert event["request_id"] == "req-12345"
    assert datetime.fromisoformat(str(event["created_at"])) > datetime.now(UTC) - timedelta(minutes=5)
    actions = {e["action"] for e in _events(world)}
    assert {"tenant.create", "project.create", "user.create", "project.member_add", "cluster.register",
            "vm.create", "vm.stop", "vm.delete", "auth.login"} <= actions
    logins = _events(world, action="auth.login", target="member@acme.test")
    assert {e["result"] for e in logins} == {"success", "failure"}


def test_failed_mutations_are_audited_too(world: World) -> None:
    assert world.acme.member.post("/api/v1/tenants", json={"name": "mine"}).status_code == 403
    failed = _events(world, action="tenant.create", result="failure")
    assert len(failed) == 1 and failed[0]["actor"] == "member@acme.test"


def test_api_key_use_is_audited(world: World) -> None:
    key = world.acme.member.post("/api/v1/api-keys", json={"name": "ci"}).json()
    world.api.client(key["key"]).get("/api/v1/vms")
    uses = _events(world, action="api_key.use")
    assert len(uses) == 1 and uses[0]["target_id"] == key["id"] and uses[0]["details"]["path"] == "/api/v1/vms"


def test_audit_search_filters_and_visibility(world: World) -> None:
    world.acme.member.post("/api/v1/vms", json=world.vm_doc("web-1"))
    world.globex.member.post("/api/v1/vms", json=world.vm_doc("web-1"))
    by_actor = _events(world, actor="member@acme.test", action="vm.*")
    assert [e["action"] for e in by_actor] == ["vm.create"]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert _events(world, since=future) == []
    manager_view = world.acme.manager.get("/api/v1/audit", params={"limit": 500}).json()["items"]
    assert manager_view and all(e["tenant_id"] == str(world.acme.id) for e in manager_view)
    user_view = world.acme.member.get("/api/v1/audit", params={"limit": 500}).json()["items"]
    assert user_view and all(e["actor_id"] == str(world.acme.member_id) for e in user_view)
    page = world.admin.get("/api/v1/audit", params={"limit": 2}).json()
    nxt = world.admin.get("/api/v1/audit", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert page["items"][-1]["id"] > nxt["items"][0]["id"]
