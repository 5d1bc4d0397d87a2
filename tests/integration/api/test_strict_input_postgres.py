"""Input that used to be silently ignored or coerced is refused with 422 naming the field, and nothing is
stored: booleans and strings for integers, times in the past or without a time zone, unknown top-level keys,
duplicate JSON keys, and a new node for a guest that is already placed. A document read from the API can
still be sent back. Real PostgreSQL and OpenBao behind the app."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from controlplane.db.engine import RequestContext, session_scope
from controlplane.models import tables as t
from tests.fixtures.api import World


def _refused(resp: Any, field: str) -> None:
    assert resp.status_code == 422, resp.text
    assert resp.json()["field"] == field, resp.text


def _names(world: World) -> list[str]:
    return [g["metadata"]["name"] for g in world.acme.member.get("/api/v1/vms").json()["items"]]


def test_integers_are_strict_and_nothing_is_stored(module_world: World) -> None:
    world = module_world
    member = world.acme.member
    for spec, field in (
        ({"cores": True}, "spec.cores"), ({"cores": "2"}, "spec.cores"), ({"cores": 2.0}, "spec.cores"),
        ({"memory_mb": "512"}, "spec.memory_mb"), ({"disks": [{"size_gb": True}]}, "spec.disks.0.size_gb"),
        ({"network": [{"bridge": "vmbr0", "vlan": "10"}]}, "spec.network.0.vlan"),
    ):
        _refused(member.post("/api/v1/vms", json=world.vm_doc("coerced", **spec)), field)
    assert "coerced" not in _names(world)
    vm = member.post("/api/v1/vms", json=world.vm_doc("strict")).json()
    _refused(member.patch(f"/api/v1/vms/{vm['id']}", json={"spec": {"cores": True}}), "spec.cores")
    after = member.get(f"/api/v1/vms/{vm['id']}").json()
    assert after["spec"]["cores"] == 1 and after["metadata"]["resource_version"] == 1
    _refused(world.admin.patch(f"/api/v1/projects/{world.acme.project_id}", json={"quota": {"guests": True}}),
             "quota.guests")


def test_expires_at_needs_a_time_zone_and_the_future(module_world: World) -> None:
    world = module_world
    member = world.acme.member
    _refused(member.post("/api/v1/vms", json=world.vm_doc("naive", expires_at="2099-01-01T00:00:00")),
             "spec.expires_at")
    _refused(member.post("/api/v1/vms", json=world.vm_doc("past", expires_at="2001-01-01T00:00:00Z")),
             "spec.expires_at")
    assert {"naive", "past"}.isdisjoint(_names(world))
    created = member.post("/api/v1/vms", json=world.vm_doc("later", expires_at="2099-01-01T00:00:00Z"))
    assert created.status_code == 201, created.text
    vm = created.json()
    _refused(member.patch(f"/api/v1/vms/{vm['id']}", json={"spec": {"expires_at": "2001-01-01T00:00:00+02:00"}}),
             "spec.expires_at")
    assert member.get(f"/api/v1/vms/{vm['id']}").json()["spec"]["expires_at"].startswith("2099-01-01")


def test_unknown_top_level_keys_are_refused_but_a_read_document_goes_back(module_world: World) -> None:
    world = module_world
    member = world.acme.member
    for key in ("spce", "extra", "metadta"):
        doc = {**world.vm_doc("unknown"), key: {"cores": 64}}
        _refused(member.post("/api/v1/vms", json=doc), key)
    assert "unknown" not in _names(world)
    vm = member.post("/api/v1/vms", json=world.vm_doc("roundtrip")).json()
    read = member.get(f"/api/v1/vms/{vm['id']}")
    document = read.json()
    assert {"id", "status", "metadata", "spec"} <= set(document)
    document["spec"]["cores"] = 2
    put = member.put(f"/api/v1/vms/{vm['id']}", json=document, headers={"If-Match": read.headers["ETag"]})
    assert put.status_code == 200, put.text
    assert member.get(f"/api/v1/vms/{vm['id']}").json()["spec"]["cores"] == 2


def test_duplicate_json_keys_are_refused(module_world: World) -> None:
    world = module_world
    member = world.acme.member
    doc = json.dumps(world.vm_doc("dupe"))
    body = doc.replace('"cores": 1', '"cores": 1, "cores": 64')
    assert body != doc
    _refused(member.post("/api/v1/vms", content=body, headers={"content-type": "application/json"}), "cores")
    top = doc[:-1] + ', "spec": {"cluster": "demo", "image": "debian-12", "cores": 64}}'
    _refused(member.post("/api/v1/vms", content=top, headers={"content-type": "application/json"}), "spec")
    assert "dupe" not in _names(world)
    vm = member.post("/api/v1/vms", json=world.vm_doc("dupe")).json()
    patch = '{"labels": {"tier": "a"}, "labels": {"tier": "b"}}'
    _refused(member.patch(f"/api/v1/vms/{vm['id']}", content=patch, headers={"content-type": "application/json"}),
             "labels")
    assert member.get(f"/api/v1/vms/{vm['id']}").json()["metadata"]["labels"] == {"tier": "web"}


def _place(world: World, vm_id: str, node: str) -> None:
    """Record what the reconciler would after creating the guest on ``node``."""
    vms = t.virtual_machines
    with session_scope(world.api.engine, RequestContext(role="admin")) as session:
        session.execute(sa.update(vms).where(vms.c.id == vm_id).values(status={"vmid": 123, "node": node}))


def test_a_placed_guest_refuses_a_new_node(module_world: World) -> None:
    world = module_world
    member = world.acme.member
    vm = member.post("/api/v1/vms", json=world.vm_doc("placed")).json()
    unplaced = member.patch(f"/api/v1/vms/{vm['id']}", json={"spec": {"node": "pve2"}})
    assert unplaced.status_code == 200, unplaced.text  # not yet created: the node may still change
    _place(world, vm["id"], "pve2")
    moved = member.patch(f"/api/v1/vms/{vm['id']}", json={"spec": {"node": "pve3"}})
    _refused(moved, "spec.node")
    assert "migration" in moved.json()["detail"]
    doc = member.get(f"/api/v1/vms/{vm['id']}").json()
    assert doc["spec"]["node"] == "pve2"
    doc["spec"]["node"] = "pve1"
    _refused(member.put(f"/api/v1/vms/{vm['id']}", json=doc), "spec.node")
    assert member.patch(f"/api/v1/vms/{vm['id']}", json={"spec": {"node": "auto"}}).status_code == 200
    assert member.patch(f"/api/v1/vms/{vm['id']}", json={"spec": {"node": "pve2"}}).status_code == 200
    assert member.get(f"/api/v1/vms/{vm['id']}").json()["spec"]["node"] == "pve2"

