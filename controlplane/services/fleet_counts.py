"""Counts over the whole installation for the metrics endpoint: guests by power state and Ready condition,
queued and leased work. Three grouped queries in one transaction (as the ``system`` role), so a scrape
stays cheap however many guests there are; nothing here names a tenant or a guest."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from controlplane.db.engine import SYSTEM, session_scope

GUESTS_SQL = """
SELECT kind, coalesce(status->>'power', 'unknown') AS power,
       coalesce((SELECT c->>'status' FROM jsonb_array_elements(conditions) c WHERE c->>'type' = 'Ready' LIMIT 1),
                'Unknown') AS ready,
       count(*) AS n
FROM (SELECT 'VirtualMachine' AS kind, status, conditions FROM virtual_machines WHERE deleted_at IS NULL
      UNION ALL
      SELECT 'Container', status, conditions FROM containers WHERE deleted_at IS NULL) guests
GROUP BY 1, 2, 3
"""
QUEUE_SQL = """
SELECT object_kind,
       count(*) FILTER (WHERE holder IS NULL AND next_attempt_at <= now()) AS due,
       count(*) FILTER (WHERE holder IS NOT NULL AND expires_at > now()) AS held
FROM work_leases GROUP BY object_kind
"""


@dataclass
class FleetCounts:
    """What one scrape reports from the database."""

    guests: dict[tuple[str, str, str], int] = field(default_factory=dict)
    """(kind, power, Ready status) -> number of guests"""
    queue_depth: dict[str, int] = field(default_factory=dict)
    """object kind -> objects due and not leased"""
    leases_held: dict[str, int] = field(default_factory=dict)
    """object kind -> unexpired leases"""


def fleet_counts(engine: Engine) -> FleetCounts:
    """Count guests, queued work and held leases now."""
    counts = FleetCounts()
    with session_scope(engine, SYSTEM) as session:
        for kind, power, ready, n in session.execute(sa.text(GUESTS_SQL)):
            counts.guests[(kind, power, ready)] = int(n)
        for kind, due, held in session.execute(sa.text(QUEUE_SQL)):
            counts.queue_depth[kind] = int(due)
            counts.leases_held[kind] = int(held)
    return counts
