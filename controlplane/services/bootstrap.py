"""Cluster registration outside a request: ``controlplane up`` registers the simulator as ``demo`` through
the same use case as ``POST /api/v1/clusters`` (connection test, secret to Vault, nodes recorded)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from controlplane.db.engine import SYSTEM, RequestContext, session_scope
from controlplane.models import tables as t
from controlplane.models.cluster import ClusterCreate
from controlplane.services import clusters
from controlplane.services.caller import Caller
from controlplane.services.clusters import Prober, SecretStore
from controlplane.services.dberrors import translated


def has_clusters(engine: Engine) -> bool:
    """Whether any cluster is registered."""
    with session_scope(engine, SYSTEM) as session:
        return session.execute(sa.select(t.clusters.c.id).limit(1)).first() is not None


def register_cluster(
    engine: Engine, vault: SecretStore, name: str, endpoint: str, token_id: str, token_secret: str,
    *, ca_cert_pem: str | None, verify_tls: bool, prober: Prober,
) -> dict[str, Any]:
    """Register (or refresh, when it exists) a cluster as the control plane itself; idempotent.

    ``prober`` tests the connection (``controlplane.drivers.proxmox_probe.probe`` for a real one).
    Returns ``{"id", "name", "nodes"}``.
    """
    body = ClusterCreate(name=name, endpoint=endpoint, token_id=token_id, token_secret=token_secret,
                         verify_tls=verify_tls, ca_cert_pem=ca_cert_pem)
    operator = Caller(user_id=None, tenant_id=None, role="admin", email="controlplane")
    with translated(), session_scope(engine, RequestContext(role="admin")) as session:
        row = clusters.register(session, operator, body, vault, prober, replace=True)
        nodes = [n.name for n in clusters.nodes_of(session, [row.id])[row.id]]
    return {"id": row.id, "name": row.name, "nodes": nodes}
