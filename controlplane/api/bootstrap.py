"""Cluster registration outside a request (``controlplane up`` registers the simulator as ``demo``),
and the default connection probe that registration uses."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from controlplane.db.engine import SYSTEM, RequestContext, session_scope
from controlplane.drivers.proxmox import ClusterInventory, probe_cluster
from controlplane.drivers.vault import VaultStore
from controlplane.models import tables as t
from controlplane.models.cluster import ClusterCreate
from controlplane.services import clusters
from controlplane.services.caller import Caller
from controlplane.services.clusters import ProbeRequest
from controlplane.services.dberrors import translated


def probe(request: ProbeRequest) -> ClusterInventory:
    """Test a cluster connection with proxmoxer (a PEM CA is written to a temporary file for requests)."""
    if not request.ca_cert_pem:
        return probe_cluster(request.endpoint, request.token_id, request.token_secret, verify=request.verify_tls)
    fd, path = tempfile.mkstemp(prefix="cp-ca-", suffix=".pem")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(request.ca_cert_pem)
        return probe_cluster(request.endpoint, request.token_id, request.token_secret,
                             verify=path if request.verify_tls else False)
    finally:
        os.unlink(path)


def has_clusters(engine: Engine) -> bool:
    """Whether any cluster is registered."""
    with session_scope(engine, SYSTEM) as session:
        return session.execute(sa.select(t.clusters.c.id).limit(1)).first() is not None


def register_cluster(
    engine: Engine, vault: VaultStore, name: str, endpoint: str, token_id: str, token_secret: str,
    *, ca_cert_pem: str | None, verify_tls: bool, prober: Any = probe,
) -> dict[str, Any]:
    """Register (or refresh, when it exists) a cluster as the control plane itself; idempotent.

    Goes through the same use case as ``POST /api/v1/clusters``: connection test, secret to Vault,
    nodes and storages recorded. Returns ``{"id", "name", "nodes"}``.
    """
    body = ClusterCreate(name=name, endpoint=endpoint, token_id=token_id, token_secret=token_secret,
                         verify_tls=verify_tls, ca_cert_pem=ca_cert_pem)
    operator = Caller(user_id=None, tenant_id=None, role="admin", email="controlplane")
    with translated(), session_scope(engine, RequestContext(role="admin")) as session:
        row = clusters.register(session, operator, body, vault, prober, replace=True)
        nodes = [n.name for n in clusters.nodes_of(session, [row.id])[row.id]]
    return {"id": row.id, "name": row.name, "nodes": nodes}
