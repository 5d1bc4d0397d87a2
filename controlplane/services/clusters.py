"""Proxmox VE clusters: registration tests the connection, stores the token secret in Vault (the row keeps
only the path) and records nodes and storages. Admins register and remove; everyone reads.

The Vault store and the connection probe are handed in (``SecretStore``, ``Prober``), so this module
needs no driver.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import Session

from controlplane.errors import ComponentError, Conflict, InvalidInput, NotFound
from controlplane.models import tables as t
from controlplane.models.cluster import ClusterCreate
from controlplane.services import audit, authz, versioning
from controlplane.services.caller import Caller

C = t.clusters
N = t.nodes
SECRET_PREFIX = "controlplane/clusters/"


class SecretStore(Protocol):
    """Where token secrets go (Vault KV v2)."""

    def write(self, path: str, data: dict[str, str]) -> None:
        """Store ``data`` at ``path``."""

    def delete(self, path: str) -> None:
        """Remove the secret at ``path``."""


@dataclass(frozen=True)
class ProbeRequest:
    """What a connection test needs."""

    endpoint: str
    token_id: str
    token_secret: str
    verify_tls: bool
    ca_cert_pem: str | None


Prober = Callable[[ProbeRequest], Any]
"""Tests the connection; returns an inventory with ``version``, ``nodes`` and ``storages``."""


def secret_path(name: str) -> str:
    """The Vault path of a cluster's token secret."""
    return f"{SECRET_PREFIX}{name}"


def list_query() -> sa.Select:
    """Every cluster (RLS lets any authenticated role read)."""
    return sa.select(C)


def get(session: Session, cluster_id: UUID) -> sa.Row:
    """One cluster."""
    row = session.execute(sa.select(C).where(C.c.id == cluster_id)).first()
    if row is None:
        raise NotFound("no such cluster")
    return row


def nodes_of(session: Session, cluster_ids: list[UUID]) -> dict[UUID, list[sa.Row]]:
    """The nodes of each cluster."""
    out: dict[UUID, list[sa.Row]] = {cid: [] for cid in cluster_ids}
    if cluster_ids:
        for row in session.execute(sa.select(N).where(N.c.cluster_id.in_(cluster_ids)).order_by(N.c.name)):
            out[row.cluster_id].append(row)
    return out


def _probe(prober: Prober, body: ClusterCreate) -> Any:
    try:
        return prober(ProbeRequest(body.endpoint, body.token_id, body.token_secret, body.verify_tls,
                                   body.ca_cert_pem))
    except ComponentError as exc:
        raise InvalidInput(f"connection test failed: {exc.message}", field=exc.field or "endpoint") from exc


def _store_inventory(session: Session, cluster_id: UUID, inventory: Any) -> None:
    session.execute(sa.delete(N).where(N.c.cluster_id == cluster_id))
    for node in inventory.nodes:
        session.execute(sa.insert(N).values(
            cluster_id=cluster_id, name=node.name, status=node.status, cpus=node.cpus, cpu_usage=node.cpu_usage,
            memory_total_mb=node.memory_total_mb, memory_used_mb=node.memory_used_mb, storages=node.storages,
        ))
    status = {"version": inventory.version, "storages": inventory.storages, "nodes": len(inventory.nodes),
              "reachable": True}
    session.execute(sa.update(C).where(C.c.id == cluster_id).values(status=status, updated_at=sa.func.now()))


def register(session: Session, caller: Caller, body: ClusterCreate, vault: SecretStore, prober: Prober,
             *, replace: bool = False) -> sa.Row:
    """Test, then store: the secret in Vault, the rest in the database (admins). With ``replace`` an existing
    cluster of that name is updated in place (idempotent bootstrap); otherwise a duplicate is a 409."""
    authz.require_admin(caller, "register clusters")
    existing = session.execute(sa.select(C).where(C.c.name == body.name).with_for_update()).first()
    if existing is not None and not replace:
        raise Conflict(f"a cluster named {body.name!r} already exists", field="name")
    inventory = _probe(prober, body)
    path = secret_path(body.name)
    values = {"endpoint": body.endpoint, "token_id": body.token_id, "secret_path": path,
              "verify_tls": body.verify_tls, "ca_cert": body.ca_cert_pem}
    if existing is None:
        cluster_id = session.execute(sa.insert(C).values(name=body.name, **values).returning(C.c.id)).scalar_one()
    else:
        cluster_id = versioning.update(session, C, existing.id, None, "cluster", values, [C.c.id]).id
    _store_inventory(session, cluster_id, inventory)
    audit.record(session, caller, "cluster.register" if existing is None else "cluster.update",
                 target_kind="Cluster", target_id=cluster_id, target_name=body.name,
                 details={"endpoint": body.endpoint, "nodes": [n.name for n in inventory.nodes]})
    session.flush()
    vault.write(path, {"token_id": body.token_id, "token_secret": body.token_secret})
    return get(session, cluster_id)


def remove(session: Session, caller: Caller, cluster_id: UUID, vault: SecretStore,
           expected: int | None = None) -> None:
    """Forget a cluster no guest uses any more, and delete its secret from Vault (admins); ``expected`` is the
    If-Match version."""
    authz.require_admin(caller, "remove clusters")
    row = get(session, cluster_id)
    for table in (t.virtual_machines, t.containers):
        if session.execute(sa.select(table.c.id).where(table.c.cluster_id == cluster_id).limit(1)).first():
            raise Conflict("guests still use this cluster")
    versioning.delete(session, C, cluster_id, expected, "cluster")
    audit.record(session, caller, "cluster.remove", target_kind="Cluster", target_id=row.id, target_name=row.name)
    session.flush()
    vault.delete(row.secret_path)
