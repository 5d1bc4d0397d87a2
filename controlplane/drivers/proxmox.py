"""The Proxmox VE API through proxmoxer; proxmoxer and requests errors become our own exceptions here.

``probe_cluster`` tests a cluster's endpoint and API token and reports its nodes, their capacity and
the storages, as registration needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import proxmoxer
import requests

from controlplane.errors import PermanentError, TemporaryError

COMPONENT = "proxmox"


@dataclass(frozen=True)
class NodeCapacity:
    """One node: status, CPUs and memory."""

    name: str
    status: str
    cpus: int
    cpu_usage: float
    memory_total_mb: int
    memory_used_mb: int
    storages: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ClusterInventory:
    """What a cluster has: its version, nodes and storages."""

    version: str
    nodes: list[NodeCapacity]
    storages: list[dict[str, Any]]


def _client(endpoint: str, token_id: str, token_secret: str, verify: bool | str, timeout: float) -> Any:
    parts = urlsplit(endpoint)
    try:
        port = parts.port or 8006
    except ValueError as exc:
        raise PermanentError(f"invalid port in {endpoint}", component=COMPONENT, field="endpoint") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PermanentError(f"not an http(s) URL: {endpoint}", component=COMPONENT, field="endpoint")
    user, _, token_name = token_id.partition("!")
    if not token_name:
        raise PermanentError("token_id must look like user@realm!name", component=COMPONENT, field="token_id")
    return proxmoxer.ProxmoxAPI(
        parts.hostname, port=port, user=user, token_name=token_name, token_value=token_secret,
        verify_ssl=verify, timeout=timeout, service="PVE",
    )


def probe_cluster(
    endpoint: str, token_id: str, token_secret: str, *, verify: bool | str = True, timeout: float = 10.0
) -> ClusterInventory:
    """Connect with the token and read version, nodes (capacity) and storages; raise on any failure.

    ``verify`` is True/False or the path of a CA bundle. A refused token is a PermanentError naming
    ``token_secret``; an unreachable endpoint or TLS failure is a TemporaryError naming ``endpoint``.
    """
    api = _client(endpoint, token_id, token_secret, verify, timeout)
    try:
        version = str(api.version.get().get("version", ""))
        nodes: list[NodeCapacity] = []
        all_storages: dict[str, dict[str, Any]] = {}
        for node in api.nodes.get():
            name = str(node["node"])
            storages = []
            if node.get("status", "online") == "online":
                for st in api.nodes(name).storage.get():
                    entry = {"storage": st.get("storage"), "type": st.get("type"),
                             "content": st.get("content", ""), "total": int(st.get("total", 0) or 0),
                             "avail": int(st.get("avail", 0) or 0)}
                    storages.append(entry)
                    all_storages.setdefault(str(st.get("storage")), {k: entry[k] for k in ("storage", "type")})
            nodes.append(NodeCapacity(
                name=name, status=str(node.get("status", "unknown")), cpus=int(node.get("maxcpu", 0) or 0),
                cpu_usage=float(node.get("cpu", 0) or 0), memory_total_mb=int(node.get("maxmem", 0) or 0) // 2**20,
                memory_used_mb=int(node.get("mem", 0) or 0) // 2**20, storages=storages,
            ))
    except proxmoxer.AuthenticationError as exc:
        raise PermanentError("the cluster refused the API token", component=COMPONENT, field="token_secret") from exc
    except proxmoxer.ResourceException as exc:
        if exc.status_code in (401, 403):
            raise PermanentError(
                f"the API token may not read the cluster ({exc.status_code})", component=COMPONENT,
                field="token_secret",
            ) from exc
        raise TemporaryError(f"the cluster answered {exc.status_code}", component=COMPONENT) from exc
    except requests.exceptions.SSLError as exc:
        raise PermanentError("TLS verification of the endpoint failed", component=COMPONENT,
                             field="endpoint") from exc
    except (requests.RequestException, OSError) as exc:
        raise TemporaryError(f"cannot reach {endpoint}: {type(exc).__name__}", component=COMPONENT) from exc
    return ClusterInventory(version=version, nodes=nodes, storages=sorted(all_storages.values(),
                                                                       key=lambda s: str(s["storage"])))
