"""Vault's Kubernetes auth method: a pod logs in with its service account token (the file the kubelet
mounts, re-read at every login because projected tokens rotate), so no Vault credential is handed to it.
The token is kept alive by :class:`.vault_approle.TokenKeeper` like an AppRole one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hvac

from controlplane.errors import TemporaryError

SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


@dataclass(frozen=True)
class KubernetesCredentials:
    """The Vault role to log in as, the service account token file, and the auth method's mount."""

    role: str
    token_file: Path = SERVICE_ACCOUNT_TOKEN
    mount: str = "kubernetes"
    method: str = "Kubernetes"

    def login(self, client: hvac.Client) -> dict[str, Any]:
        """Log in as ``role`` with the service account token read from ``token_file`` now."""
        try:
            jwt = self.token_file.read_text().strip()
        except OSError as exc:  # not mounted (yet): a later login may find it
            raise TemporaryError(f"cannot read the service account token {self.token_file}: {exc.strerror}",
                                 component="vault") from exc
        return client.auth.kubernetes.login(self.role, jwt, mount_point=self.mount)
