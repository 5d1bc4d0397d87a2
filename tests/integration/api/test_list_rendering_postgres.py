"""A list page reuses each guest's rendered document while its row is unchanged, and only then: it is the
same document a GET returns, every write of the row (a status written by the reconciler, which bumps no
resource version, included) and a project rename show in the next page, and what one caller's page
rendered never reaches another caller's page. Real PostgreSQL behind the app."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from controlplane.db.engine import RequestContext, session_scope
from controlplane.models import tables as t
from tests.fixtures.api import World


def _items(client: Any, path: str = "/api/v1/vms") -> list[dict[str, Any]]:
    resp = client.get(path, params={"limit": 500})
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]  # type: ignore[no-any-return]


def _as_owner(statement: sa.Executable, world: World) -> None:
    with session_scope(world.api.engine, RequestContext(role="admin")) as session:
        session.execute(statement)


def test_a_listed_document_is_the_one_a_get_returns_before_and_after_it_is_cached(world: World) -> None:
    member = world.acme.member
    for i in range(3):
        assert member.post("/api/v1/vms", json=world.vm_doc(f"web-{i}")).status_code == 201
    cold, warm = _items(member), _items(member)
    assert cold == warm and len(cold) == 3
    for doc in warm:
        assert doc == member.get(f"/api/v1/vms/{doc['id']}").json()


def test_a_status_write_and_a_project_rename_show_in_the_next_page(world: World) -> None:
    member = world.acme.member
    vm = member.post("/api/v1/vms", json=world.vm_doc("db-1")).json()
    assert _items(member)[0]["status"].get("power") != "running"
    vms = t.virtual_machines
    observed = {"power": "running", "ipv4": "127.0.0.9"}
    _as_owner(sa.update(vms).where(vms.c.id == vm["id"]).values(status=observed), world)
    listed = _items(member)[0]
    assert (listed["status"]["power"], listed["status"]["ipv4"]) == ("running", "127.0.0.9")
    assert listed["metadata"]["resource_version"] == vm["metadata"]["resource_version"]  # not bumped, still seen
    _as_owner(sa.update(t.projects).where(t.projects.c.id == vm["metadata"]["project_id"]).values(name="store"), world)
    assert _items(member)[0]["metadata"]["project"] == "store"


def test_documents_rendered_for_one_caller_never_reach_another_callers_page(world: World) -> None:
    acme = world.acme.member.post("/api/v1/vms", json=world.vm_doc("acme-web")).json()
    globex = world.globex.member.post("/api/v1/vms", json=world.vm_doc("globex-web")).json()
    assert {d["id"] for d in _items(world.admin)} >= {acme["id"], globex["id"]}  # both rendered and kept
    assert [d["id"] for d in _items(world.globex.member)] == [globex["id"]]
    assert [d["id"] for d in _items(world.acme.member)] == [acme["id"]]
    assert _items(world.acme.outsider) == []
    _as_owner(sa.update(t.virtual_machines).where(t.virtual_machines.c.id == acme["id"])
              .values(deleted_at=sa.func.now()), world)
    assert _items(world.acme.member) == []
