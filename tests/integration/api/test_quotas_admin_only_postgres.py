"""Quotas are set by admins only: a manager (or user) cannot raise or change a project's or the tenant's
quota (403, and reading it back shows it unchanged); a tenant's quota bounds all its projects together; new
tenants get the configured default quota. Real PostgreSQL and OpenBao behind the app."""

from __future__ import annotations

from typing import Any

from tests.fixtures.api import World, build_api, seed_user

UNLIMITED = {"vcpus": None, "memory_mb": None, "disk_gb": None, "guests": None}


def _project_quota(world: World) -> dict[str, Any]:
    return world.admin.get(f"/api/v1/projects/{world.acme.project_id}").json()["quota"]


def test_a_manager_cannot_raise_a_project_quota(world: World) -> None:
    project = f"/api/v1/projects/{world.acme.project_id}"
    assert world.admin.patch(project, json={"quota": {"guests": 2}}).status_code == 200
    for client in (world.acme.manager, world.acme.member):
        raised = client.patch(project, json={"quota": {"guests": 1_000_000}})
        assert raised.status_code == 403, raised.text
        assert _project_quota(world) == {**UNLIMITED, "guests": 2}
    lifted = world.acme.manager.patch(project, json={"quota": UNLIMITED})
    assert lifted.status_code == 403 and _project_quota(world)["guests"] == 2
    # sending the unchanged quota back with another change is fine
    same = world.acme.manager.patch(project, json={"description": "web shop", "quota": {"guests": 2}})
    assert same.status_code == 200, same.text
    assert same.json()["description"] == "web shop" and _project_quota(world)["guests"] == 2
    for i in range(2):
        assert world.acme.member.post("/api/v1/vms", json=world.vm_doc(f"web-{i}")).status_code == 201
    third = world.acme.member.post("/api/v1/vms", json=world.vm_doc("web-2"))
    assert third.status_code == 409 and third.json()["field"] == "guests"


def test_a_manager_cannot_create_a_project_with_a_quota(world: World) -> None:
    refused = world.acme.manager.post("/api/v1/projects", json={"name": "big", "quota": {"guests": 1_000_000}})
    assert refused.status_code == 403, refused.text
    names = [p["name"] for p in world.acme.manager.get("/api/v1/projects").json()["items"]]
    assert "big" not in names
    plain = world.acme.manager.post("/api/v1/projects", json={"name": "plain"})
    assert plain.status_code == 201 and plain.json()["quota"] == UNLIMITED


def test_only_admins_change_the_tenant_quota_and_it_bounds_every_project(world: World) -> None:
    tenant = f"/api/v1/tenants/{world.acme.id}"
    before = world.admin.get(tenant).json()["quota"]
    raised = world.acme.manager.patch(tenant, json={"quota": {**before, "guests": 1_000_000}})
    assert raised.status_code == 403, raised.text
    assert world.admin.get(tenant).json()["quota"] == before
    renamed = world.acme.manager.patch(tenant, json={"display_name": "ACME Inc."})
    assert renamed.status_code == 200 and renamed.json()["quota"] == before
    set_by_admin = world.admin.patch(tenant, json={"quota": {"guests": 2, "vcpus": 10}})
    assert set_by_admin.status_code == 200, set_by_admin.text
    assert world.acme.manager.get(tenant).json()["quota"] == {**UNLIMITED, "guests": 2, "vcpus": 10}
    other = world.acme.manager.post("/api/v1/projects", json={"name": "other"}).json()
    assert world.acme.manager.post("/api/v1/vms", json=world.vm_doc("a-1")).status_code == 201
    assert world.acme.manager.post("/api/v1/vms", json=world.vm_doc("b-1", project="other")).status_code == 201
    over = world.acme.manager.post("/api/v1/vms", json=world.vm_doc("b-2", project="other"))
    assert over.status_code == 409 and "tenant 'acme'" in over.json()["detail"], over.text
    listed = world.acme.manager.get("/api/v1/vms").json()["items"]
    assert sorted(g["metadata"]["name"] for g in listed) == ["a-1", "b-1"]
    # the other tenant is not held back by acme's usage
    assert world.globex.member.post("/api/v1/vms", json=world.vm_doc("g-1")).status_code == 201
    assert other["quota"] == UNLIMITED


def test_new_tenants_get_the_configured_default_quota(database: Any, vault: Any) -> None:
    api = build_api(database, vault, default_tenant_quota_guests=3, default_tenant_quota_vcpus="none")
    try:
        seed_user(api.engine, "root@example.test", "admin")
        admin = api.login("root@example.test")
        created = admin.post("/api/v1/tenants", json={"name": "fresh"})
        assert created.status_code == 201, created.text
        defaults = api.deps.settings
        assert created.json()["quota"] == {"guests": 3, "vcpus": None,
                                           "memory_mb": defaults.default_tenant_quota_memory_mb,
                                           "disk_gb": defaults.default_tenant_quota_disk_gb}
        chosen = admin.post("/api/v1/tenants", json={"name": "chosen", "quota": {"guests": None, "vcpus": 8}})
        assert chosen.status_code == 201 and chosen.json()["quota"]["guests"] is None
        assert chosen.json()["quota"]["vcpus"] == 8
        tenant_id = created.json()["id"]
        assert admin.get(f"/api/v1/tenants/{tenant_id}").json()["quota"]["guests"] == 3
    finally:
        api.engine.dispose()
