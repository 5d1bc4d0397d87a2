"""Lease claiming shares the workers fairly between tenants: a tenant with many due objects does not hold
back another tenant's one (checked on the claims themselves, in a real PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from uuid import UUID

import psycopg
import pytest
from sqlalchemy.engine import Engine

from controlplane.db.embedded import DatabaseUrls
from controlplane.db.engine import create_app_engine
from controlplane.reconciler import leases
from controlplane.reconciler.store import system_tx

VM = "VirtualMachine"


@pytest.fixture
def engine(database: DatabaseUrls) -> Iterator[Engine]:
    built = create_app_engine(database.app, database.owner)
    yield built
    built.dispose()


def _tenants(database: DatabaseUrls, *names: str) -> list[UUID]:
    with psycopg.connect(database.owner) as conn:
        return [conn.execute("INSERT INTO tenants (name) VALUES (%s) RETURNING id", (n,)).fetchone()[0]
                for n in names]


def _due(database: DatabaseUrls, tenant: UUID, count: int, *, seconds_ago: int) -> list[UUID]:
    """``count`` due leases of ``tenant``, oldest first, the newest due since ``seconds_ago``."""
    ids = [uuid.uuid4() for _ in range(count)]
    with psycopg.connect(database.owner) as conn:
        conn.cursor().executemany(
            "INSERT INTO work_leases (object_kind, object_id, tenant_id, next_attempt_at) "
            "VALUES (%s, %s, %s, now() - make_interval(secs => %s))",
            [(VM, i, tenant, seconds_ago + count - n) for n, i in enumerate(ids)])
    return ids


def test_one_object_of_a_quiet_tenant_is_claimed_in_the_first_batch(engine: Engine, database: DatabaseUrls) -> None:
    busy, quiet = _tenants(database, "busy", "quiet")
    crowd = _due(database, busy, 1000, seconds_ago=100)  # all due long before the quiet tenant's object
    (lonely,) = _due(database, quiet, 1, seconds_ago=1)
    with system_tx(engine) as conn:
        first = leases.claim(conn, "worker-1", 2, ttl=60)
    assert {lease.object_id for lease in first} == {crowd[0], lonely}  # the busy tenant's oldest, and B's one


def test_a_tenant_with_runs_in_progress_waits_behind_one_with_none(engine: Engine, database: DatabaseUrls) -> None:
    busy, quiet = _tenants(database, "busy", "quiet")
    _due(database, busy, 50, seconds_ago=100)
    with system_tx(engine) as conn:
        running = leases.claim(conn, "worker-1", 4, ttl=60)
    assert len(running) == 4
    (lonely,) = _due(database, quiet, 1, seconds_ago=1)
    with system_tx(engine) as conn:
        (next_one,) = leases.claim(conn, "worker-2", 1, ttl=60)
    assert next_one.object_id == lonely
    with system_tx(engine) as conn:  # with the quiet tenant served, the busy one goes on in FIFO order
        after = leases.claim(conn, "worker-2", 3, ttl=60)
    assert len(after) == 3 and lonely not in {lease.object_id for lease in after}


def test_claims_within_one_tenant_stay_oldest_first_and_never_overlap(engine: Engine, database: DatabaseUrls) -> None:
    (only,) = _tenants(database, "only")
    ids = _due(database, only, 6, seconds_ago=10)
    with system_tx(engine) as conn:
        a = [lease.object_id for lease in leases.claim(conn, "a", 3, ttl=60)]
    with system_tx(engine) as conn:
        b = [lease.object_id for lease in leases.claim(conn, "b", 3, ttl=60)]
    assert set(a) == set(ids[:3]) and set(b) == set(ids[3:])
