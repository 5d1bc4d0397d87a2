"""A cluster's credentials for one run: the row gives endpoint, token id and the Vault path; Vault gives the
token secret. The result feeds proxmoxer (:class:`ProxmoxAccess`) and OpenTofu's environment
(:class:`ProxmoxCredentials`); neither is stored anywhere but in memory.

A cluster's CA certificate (public) is written to ``<data dir>/clusters/<id>.pem`` so both can trust it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from uuid import UUID

import sqlalchemy as sa

from controlplane.drivers.proxmox_observe import ProxmoxAccess
from controlplane.drivers.terraform import ProxmoxCredentials
from controlplane.errors import NotFound, PermanentError

from .gateway import Gateway


class SecretReader(Protocol):
    """Reads a secret's key/value pairs (``VaultStore`` is one)."""

    def read(self, path: str) -> dict[str, str]: ...


@dataclass(frozen=True)
class ClusterCredentials:
    """How this run reaches one cluster, through proxmoxer and through OpenTofu."""

    cluster_id: UUID
    name: str
    access: ProxmoxAccess
    terraform: ProxmoxCredentials


def load_cluster(conn: sa.Connection, cluster_id: UUID, vault: SecretReader, data_dir: Path,
                 gateway: Gateway | None = None, route: str | None = None) -> ClusterCredentials:
    """Read the cluster row and its token secret from Vault (PermanentError when either is missing).
    With a ``gateway``, OpenTofu reaches the cluster through it on ``route`` (a run's own), trusting the
    gateway's certificate."""
    row = conn.execute(
        sa.text("SELECT id, name, endpoint, token_id, secret_path, verify_tls, ca_cert FROM clusters WHERE id = :id"),
        {"id": cluster_id},
    ).mappings().first()
    if row is None:
        raise PermanentError("the guest's cluster is not registered", component="proxmox", field="spec.cluster")
    try:
        secret = vault.read(row["secret_path"])
    except NotFound as exc:
        raise PermanentError(f"no token secret in Vault for cluster {row['name']}", component="vault") from exc
    token_secret = secret.get("token_secret", "")
    ca_file: str | None = None
    if row["ca_cert"]:
        path = data_dir / "clusters" / f"{row['id']}.pem"
        if not path.is_file() or path.read_text() != row["ca_cert"]:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(row["ca_cert"])
        ca_file = str(path)
    verify: bool | str = ca_file if (row["verify_tls"] and ca_file) else bool(row["verify_tls"])
    endpoint = str(row["endpoint"]).rstrip("/")
    access = ProxmoxAccess(endpoint=endpoint, token_id=row["token_id"], token_secret=token_secret, verify=verify)
    api_token = f"{row['token_id']}={token_secret}"
    if gateway is not None:
        terraform = ProxmoxCredentials(endpoint=gateway.route(route or str(row["id"]), endpoint, verify),
                                       api_token=api_token, ca_file=str(gateway.ca_file))
    else:
        terraform = ProxmoxCredentials(endpoint=endpoint, api_token=api_token, ca_file=ca_file,
                                       insecure=not row["verify_tls"])
    return ClusterCredentials(cluster_id=row["id"], name=row["name"], access=access, terraform=terraform)
