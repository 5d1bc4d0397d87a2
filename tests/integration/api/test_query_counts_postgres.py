"""How many SQL statements and transactions the main guest endpoints run, pinned: an N+1 query (a statement
per row, per page item or per membership) or an extra round trip on every request fails here.

Counted on the app's engine with SQLAlchemy's ``before_cursor_execute`` and ``begin`` events, so every
statement our code sends is seen (the driver's own BEGIN and COMMIT are not statements of ours), and every
transaction. Each count is taken with few and with many guests; the two must be equal and equal to the pin.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.fixtures.api import World

# statements per request with an access token: the credential check and the transaction's signed claim in
# one, then the endpoint's own; all in one transaction. A list reads the page's ids and row versions, and
# then, in one more statement, only the documents it has not rendered at those versions before.
LIST = 2
LIST_CHANGED = 3
GET = 2
CREATE = 13
# with an API key: the key's lookup, the claim, the endpoint's own
KEY_LIST = 3


@contextmanager
def counted(engine: Engine, transactions: list[str] | None = None) -> Iterator[list[str]]:
    """The statements run on ``engine`` inside the block (and a ``BEGIN`` in ``transactions`` per transaction)."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    def begun(_conn: Any) -> None:
        if transactions is not None:
            transactions.append("BEGIN")

    event.listen(engine, "before_cursor_execute", record)
    event.listen(engine, "begin", begun)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
        event.remove(engine, "begin", begun)


def _statements(world: World, call: Callable[[], Any]) -> list[str]:
    with counted(world.api.engine) as statements:
        resp = call()
    assert resp.status_code in (200, 201), resp.text
    return statements


def _add(world: World, client: TestClient, collection: str, names: range) -> list[str]:
    ids = []
    for i in names:
        doc = world.vm_doc(f"g-{i}")
        if collection == "containers":
            doc["kind"] = "Container"
            doc["spec"]["image"] = "debian-12-standard"
        resp = client.post(f"/api/v1/{collection}", json=doc)
        assert resp.status_code == 201, resp.text
        ids.append(resp.json()["id"])
    return ids


@pytest.mark.parametrize("collection", ["vms", "containers"])
def test_list_get_and_create_run_a_fixed_number_of_statements(world: World, collection: str) -> None:
    member = world.acme.member
    counts: dict[str, list[int]] = {"list_changed": [], "list": [], "get": [], "create": []}
    ids: list[str] = []
    for n in (2, 25):
        ids += _add(world, member, collection, range(len(ids), n))
        changed = _statements(world, lambda: member.get(f"/api/v1/{collection}", params={"limit": 50}))
        listed = _statements(world, lambda: member.get(f"/api/v1/{collection}", params={"limit": 50}))
        assert len(member.get(f"/api/v1/{collection}").json()["items"]) == n
        counts["list_changed"].append(len(changed))
        counts["list"].append(len(listed))
        last = ids[-1]
        counts["get"].append(len(_statements(world, lambda last=last: member.get(f"/api/v1/{collection}/{last}"))))
        with counted(world.api.engine) as created:
            ids += _add(world, member, collection, range(n, n + 1))
        counts["create"].append(len(created))
    assert counts == {"list_changed": [LIST_CHANGED, LIST_CHANGED], "list": [LIST, LIST], "get": [GET, GET],
                      "create": [CREATE, CREATE]}, counts


def test_a_read_with_an_access_token_is_one_transaction(world: World) -> None:
    _add(world, world.acme.member, "vms", range(2))
    for path in ("/api/v1/vms", "/api/v1/projects"):
        transactions: list[str] = []
        with counted(world.api.engine, transactions) as statements:
            resp = world.acme.member.get(path)
        assert resp.status_code == 200, resp.text
        assert len(transactions) == 1, (path, statements)
        assert "cp_session_state" in statements[0], statements  # the credential is checked first


def test_the_admin_list_across_tenants_is_one_query_too(world: World) -> None:
    _add(world, world.acme.member, "vms", range(3))
    _add(world, world.globex.member, "vms", range(3))
    first = _statements(world, lambda: world.admin.get("/api/v1/vms"))
    again = _statements(world, lambda: world.admin.get("/api/v1/vms"))
    assert (len(first), len(again)) == (LIST_CHANGED, LIST), (first, again)


def test_an_api_key_request_writes_nothing_after_its_first_use(world: World) -> None:
    created = world.acme.member.post("/api/v1/api-keys", json={"name": "ci", "scopes": ["read"]})
    assert created.status_code == 201, created.text
    client = world.api.client(created.json()["key"])
    first = _statements(world, lambda: client.get("/api/v1/vms"))
    again = _statements(world, lambda: client.get("/api/v1/vms"))
    assert any(s.lstrip().upper().startswith("UPDATE") for s in first), first  # last use recorded once
    assert len(again) == KEY_LIST and not any(s.lstrip().upper().startswith(("UPDATE", "INSERT")) for s in again), again
