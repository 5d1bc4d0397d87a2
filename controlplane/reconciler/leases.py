"""Work leases in PostgreSQL: which objects are due, who works on each, until when, and when to retry.

A row of ``work_leases`` is one object that needs a run. :func:`schedule_due` adds a row for every object
that is due (spec newer than what was observed, deletion requested, a power action pending);
:func:`claim` takes due, unheld (or expired) rows with ``FOR UPDATE SKIP LOCKED`` so several workers never
take the same one, and tenants take turns; the holder renews while the run lasts (:func:`renew`); at the
end the row is deleted (converged) or given back with ``next_attempt_at`` in the future (retry). An expired
lease is taken over by whoever claims next. Nothing else coordinates the workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from controlplane.models import tables as t

from .kinds import KINDS, RESYNC, ObjectKind


@dataclass(frozen=True)
class Lease:
    """A claimed piece of work: the object, who holds it, and how many attempts failed before."""

    object_kind: str
    object_id: UUID
    holder: str
    attempts: int
    last_error: str | None


def _due(kind: ObjectKind) -> sa.Select:
    """The objects of ``kind`` that need a run: deletion requested, a spec newer than observed (unless
    that generation stalled on a permanent error), or a power action pending."""
    g, actions = kind.rows, t.guest_actions
    stalled = sa.func.coalesce(g.c.status["stalled_generation"].astext.cast(sa.BigInteger), -1)
    pending = sa.exists().where(actions.c.target_id == g.c.id, actions.c.state == "pending")
    return sa.select(sa.literal(kind.name, sa.Text), g.c.id, g.c.tenant_id).where(sa.or_(
        g.c.deleted_at.is_not(None), sa.and_(g.c.generation > g.c.observed_generation, stalled != g.c.generation),
        pending))


def schedule_due(conn: sa.Connection) -> int:
    """Add a lease row for every due object that has none; returns how many were added."""
    w = t.work_leases
    statement = pg_insert(w).from_select(
        ["object_kind", "object_id", "tenant_id"], sa.union_all(*(_due(kind) for kind in KINDS.values()))
    ).on_conflict_do_nothing(index_elements=["object_kind", "object_id"])
    return conn.execute(statement).rowcount or 0


def enqueue(conn: sa.Connection, kind: str, object_id: UUID, tenant_id: UUID | None) -> None:
    """Make one object due now (a drift to correct, say), unless it already has a lease row."""
    conn.execute(pg_insert(t.work_leases).values(object_kind=kind, object_id=object_id, tenant_id=tenant_id)
                 .on_conflict_do_nothing(index_elements=["object_kind", "object_id"]))


CLAIM_SQL = """
WITH held AS (
  SELECT tenant_id, count(*) AS n FROM work_leases
  WHERE object_kind = ANY(:kinds) AND holder IS NOT NULL AND expires_at >= now() GROUP BY tenant_id
), ranked AS (
  SELECT w.object_kind, w.object_id, w.next_attempt_at,
         coalesce(h.n, 0) + row_number() OVER (PARTITION BY w.tenant_id ORDER BY w.next_attempt_at) AS turn
  FROM work_leases w LEFT JOIN held h ON h.tenant_id IS NOT DISTINCT FROM w.tenant_id
  WHERE w.object_kind = ANY(:kinds) AND w.next_attempt_at <= now() AND (w.holder IS NULL OR w.expires_at < now())
  ORDER BY turn, w.next_attempt_at LIMIT :scan
), due AS (
  SELECT l.object_kind, l.object_id FROM work_leases l
  JOIN ranked r ON r.object_kind = l.object_kind AND r.object_id = l.object_id
  WHERE l.next_attempt_at <= now() AND (l.holder IS NULL OR l.expires_at < now())
  ORDER BY r.turn, r.next_attempt_at LIMIT :limit FOR UPDATE OF l SKIP LOCKED
)
UPDATE work_leases w SET holder = :holder, acquired_at = now(), expires_at = now() + make_interval(secs => :ttl)
FROM due WHERE w.object_kind = due.object_kind AND w.object_id = due.object_id
RETURNING w.object_kind, w.object_id, w.attempts, w.last_error
"""
"""Fair across tenants: a tenant's due leases take turns ``held + 1, held + 2, ...`` (``held``: the leases
of the tenant being run right now, by any worker), and the lowest turns are claimed first, the oldest
due first within a turn. A tenant with a thousand due objects thus gets no more than its share while
another tenant's one object waits, and a tenant that already has runs in progress waits behind those
that have none."""


def claim(conn: sa.Connection, holder: str, limit: int, ttl: float, kinds: tuple[str, ...] = tuple(KINDS)
          ) -> list[Lease]:
    """Take up to ``limit`` due leases for ``holder`` for ``ttl`` seconds (skipping rows others hold), in
    the tenants' turns (see ``CLAIM_SQL``)."""
    if limit <= 0:
        return []
    params = {"kinds": list(kinds), "limit": limit, "scan": max(8 * limit, 64), "holder": holder, "ttl": ttl}
    rows = conn.execute(sa.text(CLAIM_SQL), params)
    return [Lease(r.object_kind, r.object_id, holder, r.attempts, r.last_error) for r in rows]


def renew(conn: sa.Connection, holder: str, object_ids: list[UUID], ttl: float) -> set[UUID]:
    """Extend ``holder``'s leases on ``object_ids``; returns the ids still held (the others were lost)."""
    if not object_ids:
        return set()
    rows = conn.execute(
        sa.text("UPDATE work_leases SET expires_at = now() + make_interval(secs => :ttl) "
                "WHERE holder = :holder AND object_id = ANY(:ids) RETURNING object_id"),
        {"ttl": ttl, "holder": holder, "ids": object_ids},
    )
    return {r[0] for r in rows}


def release(conn: sa.Connection, lease: Lease) -> None:
    """The object converged (or is gone): drop its lease row."""
    conn.execute(
        sa.text("DELETE FROM work_leases WHERE object_kind = :k AND object_id = :id AND holder = :h"),
        {"k": lease.object_kind, "id": lease.object_id, "h": lease.holder},
    )


def hand_back(conn: sa.Connection, holder: str, object_ids: list[UUID]) -> int:
    """A stopping worker gives up the leases of runs it could not finish: due again now, for any worker (the
    attempt is not counted: the run was interrupted, not failed). Returns how many were still held."""
    if not object_ids:
        return 0
    rows = conn.execute(
        sa.text("UPDATE work_leases SET holder = NULL, expires_at = NULL, next_attempt_at = now() "
                "WHERE holder = :holder AND object_id = ANY(:ids) RETURNING object_id"),
        {"holder": holder, "ids": object_ids},
    )
    return len(rows.fetchall())


def retry_later(conn: sa.Connection, lease: Lease, delay: float, error: str) -> None:
    """Give the lease back with one more failed attempt, due again in ``delay`` seconds."""
    conn.execute(
        sa.text("UPDATE work_leases SET holder = NULL, expires_at = NULL, attempts = attempts + 1, "
                "next_attempt_at = now() + make_interval(secs => :delay), last_error = :err "
                "WHERE object_kind = :k AND object_id = :id AND holder = :h"),
        {"delay": delay, "err": error[:2000], "k": lease.object_kind, "id": lease.object_id, "h": lease.holder},
    )


def claim_resync(conn: sa.Connection, holder: str, interval: float) -> list[UUID]:
    """Clusters whose periodic observation is due; each is then not due again for ``interval`` seconds."""
    conn.execute(sa.text(
        "INSERT INTO work_leases (object_kind, object_id) SELECT :k, id FROM clusters "
        "ON CONFLICT (object_kind, object_id) DO NOTHING"), {"k": RESYNC})
    rows = conn.execute(sa.text(
        "WITH due AS (SELECT object_id FROM work_leases WHERE object_kind = :k AND next_attempt_at <= now() "
        "  FOR UPDATE SKIP LOCKED) "
        "UPDATE work_leases w SET holder = :holder, acquired_at = now(), "
        "  next_attempt_at = now() + make_interval(secs => :interval) "
        "FROM due WHERE w.object_kind = :k AND w.object_id = due.object_id RETURNING w.object_id"),
        {"k": RESYNC, "holder": holder, "interval": interval})
    return [r[0] for r in rows]
