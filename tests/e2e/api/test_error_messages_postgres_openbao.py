"""Errors the database raises, as an API client reads them: the field and the value, never a constraint name.

Duplicate names and memberships (409 naming the field, the value and where it is taken; a taken e-mail
address names the field only, the same answer for every tenant), a tenant
deleted while its guests exist (409 saying what still uses it), and a reference to a missing object stored
behind the services' backs (422 naming the field). Real PostgreSQL (with Row-Level Security) and OpenBao.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from controlplane.db.engine import RequestContext, session_scope
from controlplane.errors import InvalidInput
from controlplane.models import tables as t
from controlplane.services.dberrors import translated
from controlplane.services.users import EMAIL_TAKEN
from tests.fixtures.api import PASSWORD, World

DATABASE_WORDS = re.compile(r"_(key|fkey|pkey|check|idx)\b|constraint|virtual_machines|tenant_id", re.IGNORECASE)


def _conflict(resp: Any, detail: str, field: str | None) -> None:
    assert resp.status_code == 409, resp.text
    body = resp.json()
    assert body["detail"] == detail
    assert body.get("field") == field
    assert not DATABASE_WORDS.search(body["detail"]), body


def test_duplicates_name_the_field_and_value(module_world: World) -> None:
    world = module_world
    member = world.acme.member
    assert member.post("/api/v1/vms", json=world.vm_doc("web-1")).status_code == 201
    _conflict(member.post("/api/v1/vms", json=world.vm_doc("web-1")),
              'metadata.name: "web-1" already exists in project shop', "metadata.name")
    container = {**world.vm_doc("web-1"), "kind": "Container"}
    assert member.post("/api/v1/containers", json=container).status_code == 201
    _conflict(member.post("/api/v1/containers", json=container),
              'metadata.name: "web-1" already exists in project shop', "metadata.name")

    admin = world.admin
    _conflict(admin.post("/api/v1/tenants", json={"name": "acme"}), 'name: "acme" already exists', "name")
    _conflict(admin.post("/api/v1/projects", json={"name": "shop", "tenant": "acme"}),
              'name: "shop" already exists in this tenant', "name")
    _conflict(admin.post("/api/v1/users", json={"email": "Member@acme.test", "password": PASSWORD, "role": "user",
                                                "tenant": "acme"}),
              EMAIL_TAKEN, "email")
    _conflict(world.acme.manager.post(f"/api/v1/projects/{world.acme.project_id}/members",
                                      json={"user_id": str(world.acme.member_id)}),
              "user_id: the user is already a member of this project", "user_id")


def test_deleting_a_tenant_in_use_says_what_uses_it(module_world: World) -> None:
    world = module_world
    assert world.globex.member.post("/api/v1/vms", json=world.vm_doc("db-1")).status_code == 201
    resp = world.admin.delete(f"/api/v1/tenants/{world.globex.id}")
    _conflict(resp, "the tenant is still used by virtual machines; delete those first", None)
    assert world.admin.get(f"/api/v1/tenants/{world.globex.id}").status_code == 200


def test_a_missing_reference_names_the_field(module_world: World) -> None:
    """A row pointing at a cluster that does not exist (written past the services) names ``cluster``."""
    world = module_world
    g = t.virtual_machines
    with pytest.raises(InvalidInput) as caught, translated(), \
            session_scope(world.api.engine, RequestContext(role="admin")) as session:
        session.execute(sa.insert(g).values(
            tenant_id=world.acme.id, project_id=world.acme.project_id, cluster_id=uuid.uuid4(), name="ghost",
            labels={}, spec={}, finalizers=[],
        ))
    assert (caught.value.message, caught.value.field) == ("cluster: no such cluster", "cluster")


def test_a_refused_value_names_the_field(module_world: World) -> None:
    """A check constraint refusing a value (written past the services) names the request's field."""
    world = module_world
    with pytest.raises(InvalidInput) as caught, translated(), \
            session_scope(world.api.engine, RequestContext(role="admin")) as session:
        session.execute(sa.insert(t.projects).values(tenant_id=world.acme.id, name="lab", quota_vcpus=-1))
    assert (caught.value.message, caught.value.field) == ("quota.vcpus: the value is not allowed", "quota.vcpus")
