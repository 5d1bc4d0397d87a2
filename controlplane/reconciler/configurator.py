"""How a worker configures guests with Ansible: where the playbooks are, where run directories go, time
limits, and where the SSH private key of a guest is kept in Vault.

SSH keys (Vault KV v2, key ``private_key``, an OpenSSH or PEM private key), first found wins:

    controlplane/ssh/projects/<project id>     the guest's project
    controlplane/ssh/tenants/<tenant id>       every project of the tenant
    controlplane/ssh/default                   every guest (the operator's key)

The path used is recorded in ``status.configuration.key_path``; the key itself is only ever in memory
and, for the duration of a run, in the run's 0600 file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from controlplane.drivers.ansible import PLAYBOOKS_DIR, configuration_digest
from controlplane.errors import NotFound, TemporaryError

from .credentials import SecretReader

KEY_FIELD = "private_key"


def ssh_key_paths(tenant_id: UUID, project_id: UUID) -> list[str]:
    """The Vault paths looked at for a guest's SSH key, in order."""
    return [f"controlplane/ssh/projects/{project_id}", f"controlplane/ssh/tenants/{tenant_id}",
            "controlplane/ssh/default"]


def read_ssh_key(vault: SecretReader, tenant_id: UUID, project_id: UUID) -> tuple[str, str]:
    """``(path, private key)`` of the first key found; a TemporaryError naming the paths when there is none
    (an operator adding the key later lets the next attempt proceed)."""
    paths = ssh_key_paths(tenant_id, project_id)
    for path in paths:
        try:
            secret = vault.read(path)
        except NotFound:
            continue
        if secret.get(KEY_FIELD):
            return path, secret[KEY_FIELD]
    raise TemporaryError(f"no SSH private key in Vault: put one at {paths[0]} (or {paths[1]}, {paths[2]}) "
                         f"under the key {KEY_FIELD!r}", component="vault")


@dataclass(frozen=True)
class Configurator:
    """The Ansible side of a worker."""

    playbook_dir: Path = PLAYBOOKS_DIR
    work_dir: Path | None = None
    timeout: int = 1800
    connect_timeout: float = 5.0
    port: int = 22

    def digest(self, configure: Mapping[str, Any]) -> str | None:
        """What a run of ``configure`` would do, as a digest (None when its playbook does not exist)."""
        try:
            return configuration_digest(configure, self.playbook_dir)
        except FileNotFoundError:
            return None
