"""A two-tenant world shared by the tests of one module (seeding it per test would dominate their time)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from controlplane.drivers.vault import VaultStore
from tests.fixtures.api import World, build_api, build_world
from tests.fixtures.postgres import create_database


@pytest.fixture(scope="module")
def module_world(pg_server: Any, pg_template: str, vault_server: Any, pvesim: Any) -> Iterator[World]:
    """Two seeded tenants, an admin and the session simulator as cluster ``demo``, on a database of this module."""
    database = create_database(pg_server, pg_template)
    api = build_api(database, VaultStore(vault_server.addr, vault_server.token))
    world = build_world(api, pvesim)
    yield world
    for client in api.clients:
        client.close()
    api.engine.dispose()
