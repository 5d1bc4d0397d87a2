"""The kinds of managed object the reconciler converges, their tables, and their Terraform workspaces."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import sqlalchemy as sa

from controlplane.models import tables as t


@dataclass(frozen=True)
class ObjectKind:
    """A managed kind: its name (as in documents and leases), its table, its Proxmox API name, and whether
    OpenTofu can import an existing guest of it (a container's template and keys cannot be read back from
    Proxmox, so an import of one plans a replace)."""

    name: str
    table: str
    api: str
    importable: bool = True

    @property
    def rows(self) -> sa.Table:
        """The kind's table (SQLAlchemy Core, from ``controlplane.models.tables``)."""
        return t.metadata.tables[self.table]


VM = ObjectKind("VirtualMachine", "virtual_machines", "qemu")
CONTAINER = ObjectKind("Container", "containers", "lxc", importable=False)
KINDS: dict[str, ObjectKind] = {VM.name: VM, CONTAINER.name: CONTAINER}
RESYNC = "ClusterResync"
"""Lease kind of a cluster's periodic observation (one worker observes a cluster at a time)."""


def workspace(kind: ObjectKind, object_id: UUID | str) -> str:
    """The Terraform workspace (one per object) holding the object's state in the pg backend."""
    return f"{kind.api}-{object_id}"
