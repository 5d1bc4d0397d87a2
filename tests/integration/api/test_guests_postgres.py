"""VMs and containers through the API on real PostgreSQL: the document, generation, ETag/If-Match,
power actions, assignment, deletion as desired state, validation and quotas."""

from __future__ import annotations

import sqlalchemy as sa

from controlplane.db.engine import SYSTEM, session_scope
from tests.fixtures.api import World


def test_create_read_roundtrip_and_bookkeeping(world: World) -> None:
    created = world.acme.member.post("/api/v1/vms", json=world.vm_doc("web-1"))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["kind"] == "VirtualMachine" and body["apiVersion"] == "controlplane/v1"
    assert body["metadata"]["project"] == "shop" and body["metadata"]["generation"] == 1
    assert body["spec"]["cluster"] == "demo" and body["status"]["observed_generation"] == 0
    got = world.acme.member.get(f"/api/v1/vms/{body['id']}")
    assert got.status_code == 200 and got.headers["ETag"] == '"1"'
    # a document read from the API can be sent back as is (status and bookkeeping are ignored)
    again = world.acme.member.put(f"/api/v1/vms/{body['id']}", json=got.json(), headers={"If-Match": '"1"'})
    assert again.status_code == 200, again.text
    assert again.json()["metadata"]["generation"] == 1 and again.headers["ETag"] == '"2"'


def test_spec_change_bumps_generation_and_if_match_conflicts_are_412(world: World) -> None:
    vm = world.acme.member.post("/api/v1/vms", json=world.vm_doc("web-1")).json()
    url = f"/api/v1/vms/{vm['id']}"
    changed = world.acme.member.patch(url, json={"spec": {"cores": 2}}, headers={"If-Match": '"1"'})
    assert changed.status_code == 200, changed.text
    assert changed.json()["metadata"]["generation"] == 2 and changed.json()["spec"]["cores"] == 2
    stale = world.acme.member.patch(url, json={"spec": {"cores": 3}}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert world.acme.member.get(url).json()["spec"]["cores"] == 2


def test_status_is_read_only_to_clients(world: World) -> None:
    doc = world.vm_doc("web-1") | {"status": {"vmid": 999, "power": "running", "observed_generation": 7}}
    vm = world.acme.member.post("/api/v1/vms", json=doc).json()
    assert vm["status"]["vmid"] is None and vm["status"]["observed_generation"] == 0
    patched = world.acme.member.patch(f"/api/v1/vms/{vm['id']}", json={"status": {"vmid": 1}})
    assert patched.status_code == 422 and patched.json()["field"] == "status"


def test_validation_names_the_field_and_writes_nothing(world: World) -> None:
    cases = [
        ({"cores": 0}, "spec.cores"),
        ({"network": [{"bridge": "vmbr0", "ipv4": "10.0.0.300/24"}]}, "spec.network.0.ipv4"),
        ({"ssh_keys": ["not a key"]}, "spec.ssh_keys"),
        ({"cluster": "nowhere"}, "spec.cluster"),
    ]
    for spec, field in cases:
        resp = world.acme.member.post("/api/v1/vms", json=world.vm_doc("bad", **spec))
        assert resp.status_code == 422, (spec, resp.text)
        assert resp.json()["field"] == field, resp.json()
    bad_name = world.vm_doc("Not_A_Label")
    assert world.acme.member.post("/api/v1/vms", json=bad_name).json()["field"] == "metadata.name"
    assert world.acme.member.get("/api/v1/vms").json()["items"] == []


def test_duplicate_name_in_project_is_409(world: World) -> None:
    assert world.acme.member.post("/api/v1/vms", json=world.vm_doc("web-1")).status_code == 201
    assert world.acme.member.post("/api/v1/vms", json=world.vm_doc("web-1")).status_code == 409


def test_actions_change_desired_power_and_are_recorded(world: World) -> None:
    vm = world.acme.member.post("/api/v1/vms", json=world.vm_doc("web-1")).json()
    stop = world.acme.member.post(f"/api/v1/vms/{vm['id']}/actions/stop")
    assert stop.status_code == 202 and stop.json()["action"] == "stop"
    after = world.acme.member.get(f"/api/v1/vms/{vm['id']}").json()
    assert after["spec"]["power"] == "stopped" and after["metadata"]["generation"] == 2
    assert world.acme.member.post(f"/api/v1/vms/{vm['id']}/actions/reboot").status_code == 409
    assert world.acme.member.post(f"/api/v1/vms/{vm['id']}/actions/explode").status_code == 422
    with session_scope(world.api.engine, SYSTEM) as session:
        actions = session.execute(sa.text("SELECT action FROM guest_actions ORDER BY created_at")).scalars().all()
    assert actions == ["stop"]


def test_assigned_user_sees_and_powers_one_guest_and_nothing_else(world: World) -> None:
    mine = world.acme.member.post("/api/v1/vms", json=world.vm_doc("mine")).json()
    world.acme.member.post("/api/v1/vms", json=world.vm_doc("other"))
    outsider = world.acme.outsider
    assert outsider.get("/api/v1/vms").json()["items"] == []
    assigned = world.acme.manager.post(f"/api/v1/vms/{mine['id']}/assign",
                                       json={"user_id": str(world.acme.outsider_id)})
    assert assigned.status_code == 200, assigned.text
    assert [v["metadata"]["name"] for v in outsider.get("/api/v1/vms").json()["items"]] == ["mine"]
    assert outsider.post(f"/api/v1/vms/{mine['id']}/actions/stop").status_code == 202
    before = world.acme.member.get(f"/api/v1/vms/{mine['id']}")
    assert outsider.patch(f"/api/v1/vms/{mine['id']}", json={"spec": {"cores": 4}}).status_code == 403
    assert outsider.delete(f"/api/v1/vms/{mine['id']}").status_code == 403
    after = world.acme.member.get(f"/api/v1/vms/{mine['id']}")
    assert after.status_code == 200 and after.headers["ETag"] == before.headers["ETag"]
    assert after.json()["spec"]["cores"] == 1 and after.json()["metadata"]["deleted_at"] is None
    assert outsider.get("/api/v1/projects").json()["items"] == []


def test_delete_marks_the_row_and_leaves_destroy_to_the_reconciler(world: World) -> None:
    vm = world.acme.member.post("/api/v1/vms", json=world.vm_doc("web-1")).json()
    deleted = world.acme.member.delete(f"/api/v1/vms/{vm['id']}", headers={"If-Match": '"1"'})
    assert deleted.status_code == 202 and deleted.json()["metadata"]["deleted_at"] is not None
    assert world.acme.member.get("/api/v1/vms").json()["items"] == []
    listed = world.acme.member.get("/api/v1/vms", params={"include_deleted": "true"}).json()["items"]
    assert [v["id"] for v in listed] == [vm["id"]]
    with session_scope(world.api.engine, SYSTEM) as session:
        finalizers = session.execute(sa.text("SELECT finalizers FROM virtual_machines")).scalar_one()
    assert finalizers == ["controlplane/destroy"]
    # the name is free again for a new guest
    assert world.acme.member.post("/api/v1/vms", json=world.vm_doc("web-1")).status_code == 201


def test_containers_have_the_same_contract(world: World) -> None:
    doc = world.vm_doc("ct-1") | {"kind": "Container"}
    ct = world.acme.member.post("/api/v1/containers", json=doc)
    assert ct.status_code == 201 and ct.json()["kind"] == "Container"
    assert world.acme.member.post("/api/v1/containers", json=world.vm_doc("ct-2")).status_code == 422  # kind
    assert world.acme.member.post(f"/api/v1/containers/{ct.json()['id']}/actions/shutdown").status_code == 202


def test_quota_refusal_says_which_limit_used_and_asked(world: World) -> None:
    project = f"/api/v1/projects/{world.acme.project_id}"
    assert world.admin.patch(project, json={"quota": {"vcpus": 3, "guests": 5}}).status_code == 200
    assert world.acme.member.post("/api/v1/vms", json=world.vm_doc("a", cores=2)).status_code == 201
    refused = world.acme.member.post("/api/v1/vms", json=world.vm_doc("b", cores=2))
    assert refused.status_code == 409
    assert refused.json()["detail"] == "quota exceeded for project 'shop': vcpus limit 3, used 2, asked 2"
    usage = world.acme.member.get(f"{project}/usage").json()
    assert usage == {"vcpus": 2, "memory_mb": 512, "disk_gb": 4, "guests": 1}
    assert world.acme.member.post("/api/v1/vms", json=world.vm_doc("b", cores=1)).status_code == 201
    # a member may not raise the quota
    assert world.acme.member.patch(project, json={"quota": {"vcpus": 100}}).status_code == 403


def test_lists_paginate_filter_sort_and_search(world: World) -> None:
    for i in range(7):
        doc = world.vm_doc(f"web-{i}", power="stopped" if i % 2 else "running")
        assert world.acme.member.post("/api/v1/vms", json=doc).status_code == 201
    seen, cursor = [], None
    while True:
        params = {"limit": 3, "sort": "-name"} | ({"cursor": cursor} if cursor else {})
        page = world.acme.member.get("/api/v1/vms", params=params).json()
        seen += [v["metadata"]["name"] for v in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"web-{i}" for i in range(6, -1, -1)]
    stopped = world.acme.member.get("/api/v1/vms", params={"power": "stopped"}).json()["items"]
    assert {v["metadata"]["name"] for v in stopped} == {"web-1", "web-3", "web-5"}
    by_id = world.acme.member.get("/api/v1/vms", params={"project_id": str(world.acme.project_id)}).json()
    by_name = world.acme.member.get("/api/v1/vms", params={"project": "shop"}).json()
    assert len(by_id["items"]) == len(by_name["items"]) == 7
    multi = world.acme.member.get("/api/v1/vms", params=[("name", "web-1"), ("name", "web-2,web-3")]).json()
    assert len(multi["items"]) == 3
    assert len(world.acme.member.get("/api/v1/vms", params={"q": "eb-4"}).json()["items"]) == 1
    assert world.acme.member.get("/api/v1/vms", params={"sort": "password"}).json()["field"] == "sort"
    assert world.acme.member.get("/api/v1/vms", params={"cursor": "garbage"}).status_code == 422
