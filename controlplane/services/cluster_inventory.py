"""Checking a guest's spec against what is known of its cluster: the nodes and storages registration
recorded. A node or a storage the cluster does not have is refused at the API (422 naming the field)
instead of failing in the reconciler; while the inventory is unknown nothing is refused."""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import Session

from controlplane.errors import InvalidInput
from controlplane.models import tables as t
from controlplane.models.guest import Spec


def node_storages(session: Session, cluster_id: UUID) -> dict[str, set[str]]:
    """``{node: {storage, ...}}`` of the cluster as recorded ({} when unknown)."""
    n = t.nodes
    rows = session.execute(sa.select(n.c.name, n.c.storages).where(n.c.cluster_id == cluster_id)).all()
    return {row.name: {str(s.get("storage")) for s in row.storages or [] if isinstance(s, dict)} for row in rows}


def check_spec(session: Session, cluster_id: UUID, spec: Spec) -> None:
    """Refuse ``spec.node`` or a disk's storage that the cluster is known not to have."""
    storages = node_storages(session, cluster_id)
    if not storages:
        return
    if spec.node != "auto" and spec.node not in storages:
        raise InvalidInput(f"the cluster has no node {spec.node!r} (it has: {', '.join(sorted(storages))})",
                           field="spec.node")
    usable = storages[spec.node] if spec.node != "auto" else set().union(*storages.values())
    where = f"node {spec.node}" if spec.node != "auto" else "any node of the cluster"
    for index, disk in enumerate(spec.disks):
        if disk.storage not in usable:
            raise InvalidInput(f"there is no storage {disk.storage!r} on {where} (there are: "
                               f"{', '.join(sorted(usable)) or 'none'})", field=f"spec.disks.{index}.storage")
