"""The connection test that cluster registration runs: proxmoxer against the endpoint, with the cluster's
PEM CA (when given) written to a temporary file for the duration, since requests verifies against a path."""

from __future__ import annotations

import os
import tempfile
from typing import Protocol

from controlplane.drivers.proxmox import ClusterInventory, probe_cluster


class ConnectionTest(Protocol):
    """What a connection test needs (``services.clusters.ProbeRequest`` has these fields)."""

    endpoint: str
    token_id: str
    token_secret: str
    verify_tls: bool
    ca_cert_pem: str | None


def probe(request: ConnectionTest) -> ClusterInventory:
    """Test a cluster connection and return its nodes and storages."""
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
