"""The inventory reads every host with two SQL statements whatever the number of hosts (a fixed few more to
enter a tenant), counted at the driver, where each statement leaves for PostgreSQL; and its ``tenants``, ``clusters``
and ``kinds`` filters, on their own and together through the real ``ansible-inventory``. Real PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest

from controlplane.db.embedded import DatabaseUrls
from controlplane.services.inventory import InventoryFilter, load_inventory
from controlplane.services.inventory_source import InventorySource
from tests.integration.ansible.runner import ansible_env, inventory_list, plain
from tests.integration.ansible.seed import GuestRow, seed

GUESTS = [
    GuestRow("web-1", vmid=100),
    GuestRow("cache-1", kind="container", vmid=101),
    GuestRow("edge-1", kind="container", cluster="edge", vmid=102),
    GuestRow("erp-1", tenant="globex", project="erp", vmid=103),
]


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every SQL statement this test's thread sends through a psycopg cursor while the test runs.

    Only this thread's: a server or worker thread that an earlier test in the same process left behind
    (a pool's ping, a lease renewal) must not count as the inventory's."""
    sent: list[str] = []
    execute = psycopg.Cursor.execute
    this_thread = threading.get_ident()

    def counting(self: psycopg.Cursor, query: Any, *args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() == this_thread:
            sent.append(str(query))
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", counting)
    return sent


def _guests(database: DatabaseUrls, **filters: tuple[str, ...]) -> set[str]:
    inventory = load_inventory(InventorySource(database.owner), filters=InventoryFilter(**filters), hostnames="short")
    return {h.name for h in inventory.hosts if h.vars.get("kind") != "node"}


def test_two_statements_whatever_the_number_of_hosts(database: DatabaseUrls, statements: list[str]) -> None:
    seed(database.owner, GUESTS[:2])
    statements.clear()
    few = load_inventory(InventorySource(database.owner))
    sent_for_few = list(statements)
    seed(database.owner, [GuestRow(f"bulk-{i:02d}", vmid=200 + i, node=f"pve{1 + i % 2}") for i in range(40)])
    statements.clear()
    many = load_inventory(InventorySource(database.owner))
    assert len(many.hosts) == len(few.hosts) + 40
    assert len(statements) == len(sent_for_few) == 2 == many.queries, statements
    statements.clear()
    as_tenant = load_inventory(InventorySource(database.owner, set_app_role=True), tenant="acme")
    assert len(statements) == as_tenant.queries <= 2 + 4, statements
    assert {h.vars["tenant"] for h in as_tenant.hosts if h.vars.get("kind") != "node"} == {"acme"}


def test_tenants_clusters_and_kinds_filters(database: DatabaseUrls) -> None:
    seed(database.owner, GUESTS)
    assert _guests(database) == {"web-1", "cache-1", "edge-1", "erp-1"}
    assert _guests(database, tenants=("globex",)) == {"erp-1"}
    assert _guests(database, clusters=("edge",)) == {"edge-1"}
    assert _guests(database, kinds=("container",)) == {"cache-1", "edge-1"}
    assert _guests(database, kinds=("vm",), tenants=("acme", "globex")) == {"web-1", "erp-1"}


def test_filters_through_ansible_inventory(database: DatabaseUrls, tmp_path: Path) -> None:
    seed(database.owner, GUESTS)
    inventory = tmp_path / "f.controlplane.yml"
    inventory.write_text("plugin: controlplane\nhostnames: short\nnodes: false\nstrict: true\n"
                         "filters:\n  tenants: [acme]\n  clusters: [demo]\n  kinds: [container]\n")
    listing = inventory_list(ansible_env(CONTROLPLANE_DATABASE_URL=database.owner), str(inventory))
    assert set(plain(listing["_meta"]["hostvars"])) == {"cache-1"}
