"""Reading a Proxmox VE cluster for the reconciler: one ``/cluster/resources`` call per resync returns every
guest's power, CPU, memory and uptime; plus the next free VMID and one guest's current status.

``ProxmoxAccess`` says how to reach a cluster (endpoint, API token, TLS trust). proxmoxer and requests
errors are translated here (:func:`translated`): 5xx, 595, timeouts, dropped connections and lock
contention become :class:`TemporaryError`; refused credentials, TLS failures and 4xx become
:class:`PermanentError`; a guest that does not exist is reported as ``None`` by the readers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import proxmoxer
import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from controlplane.errors import PermanentError, TemporaryError

COMPONENT = "proxmox"
T = TypeVar("T")
GUEST_TYPES = {"qemu": "VirtualMachine", "lxc": "Container"}
API_OF_KIND = {"VirtualMachine": "qemu", "Container": "lxc"}


@dataclass(frozen=True)
class ProxmoxAccess:
    """How to reach one cluster: ``token_id`` is ``user@realm!name``; ``verify`` is a bool or a CA file path."""

    endpoint: str
    token_id: str
    token_secret: str = field(repr=False)
    verify: bool | str = True
    timeout: float = 15.0

    def client(self) -> Any:
        """A proxmoxer client for this cluster (no request is made yet)."""
        parts = urlsplit(self.endpoint)
        if parts.scheme != "https" or not parts.hostname:
            raise PermanentError(f"not an https URL: {self.endpoint}", component=COMPONENT, field="endpoint")
        user, _, name = self.token_id.partition("!")
        return proxmoxer.ProxmoxAPI(parts.hostname, port=parts.port or 8006, user=user, token_name=name,
                                    token_value=self.token_secret, verify_ssl=self.verify, timeout=self.timeout)


class GuestGone(PermanentError):
    """The guest addressed does not exist in the cluster."""


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Run a Proxmox call, turning foreign errors into TemporaryError / PermanentError naming ``what``."""
    try:
        yield
    except proxmoxer.AuthenticationError as exc:
        raise PermanentError(f"{what}: the cluster refused the API token", component=COMPONENT) from exc
    except proxmoxer.ResourceException as exc:
        text = f"{exc.status_code} {exc.status_message} {exc.content or ''} {exc.errors or ''}".strip()
        if exc.status_code in (401, 403):
            raise PermanentError(f"{what}: not allowed ({text})", component=COMPONENT) from exc
        if "does not exist" in text or exc.status_code == 404:
            raise GuestGone(f"{what}: {text}", component=COMPONENT) from exc
        if exc.status_code >= 500 or "lock" in text or exc.status_code == 429:
            raise TemporaryError(f"{what}: {text}", component=COMPONENT) from exc
        raise PermanentError(f"{what}: {text}", component=COMPONENT) from exc
    except requests.exceptions.SSLError as exc:
        raise PermanentError(f"{what}: TLS verification failed", component=COMPONENT) from exc
    except (requests.RequestException, OSError) as exc:
        raise TemporaryError(f"{what}: {type(exc).__name__}", component=COMPONENT) from exc


def call(what: str, request: Callable[[], T], *, attempts: int = 5, delay: float = 0.2) -> T:
    """Make one API call, retrying a TemporaryError up to ``attempts`` times with a short capped backoff.

    Only for calls that are safe to repeat: reads, and writes refused before Proxmox processed them.
    """
    def once() -> T:
        with translated(what):
            return request()

    retrying = Retrying(stop=stop_after_attempt(attempts), wait=wait_exponential(multiplier=delay, max=2.0),
                        retry=retry_if_exception_type(TemporaryError), reraise=True)
    return retrying(once)


@dataclass(frozen=True)
class ObservedGuest:
    """One guest as ``/cluster/resources`` reports it."""

    kind: str
    vmid: int
    name: str
    node: str
    power: str
    cores: int
    memory_mb: int
    cpu: float
    mem_mb: int
    uptime: int
    template: bool
    lock: str | None

    def as_status(self) -> dict[str, Any]:
        """The fields the reconciler copies into an object's status."""
        return {"power": self.power, "node": self.node, "cpu": round(self.cpu, 4), "mem_mb": self.mem_mb,
                "uptime": self.uptime}


@dataclass(frozen=True)
class ClusterSnapshot:
    """Every guest of a cluster at one moment, by vmid, and each online node's capacity."""

    guests: dict[int, ObservedGuest]
    nodes: dict[str, dict[str, Any]]


def _guest(row: dict[str, Any]) -> ObservedGuest:
    return ObservedGuest(
        kind=GUEST_TYPES[row["type"]], vmid=int(row["vmid"]), name=str(row.get("name", "")),
        node=str(row.get("node", "")), power=str(row.get("status", "unknown")),
        cores=int(row.get("maxcpu", 0) or 0), memory_mb=int(row.get("maxmem", 0) or 0) // 2**20,
        cpu=float(row.get("cpu", 0) or 0), mem_mb=int(row.get("mem", 0) or 0) // 2**20,
        uptime=int(row.get("uptime", 0) or 0), template=bool(row.get("template", 0)), lock=row.get("lock"),
    )


def cluster_snapshot(access: ProxmoxAccess, *, attempts: int = 1) -> ClusterSnapshot:
    """One ``GET /cluster/resources`` call (repeated up to ``attempts`` times on a temporary failure):
    every guest, node and storage of the cluster."""
    client = access.client()
    rows = call("reading /cluster/resources", lambda: client.cluster.resources.get(), attempts=attempts)
    guests = {int(r["vmid"]): _guest(r) for r in rows if r.get("type") in GUEST_TYPES}
    nodes: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row.get("type") == "node":
            nodes[str(row["node"])] = {
                "online": row.get("status") == "online", "cpus": int(row.get("maxcpu", 0) or 0),
                "cpu": float(row.get("cpu", 0) or 0), "maxmem_mb": int(row.get("maxmem", 0) or 0) // 2**20,
                "mem_mb": int(row.get("mem", 0) or 0) // 2**20, "storages": [],
            }
    for row in rows:
        if row.get("type") == "storage" and str(row.get("node")) in nodes and row.get("status") == "available":
            nodes[str(row["node"])]["storages"].append(str(row.get("storage")))
    return ClusterSnapshot(guests=guests, nodes=nodes)


def next_free_vmid(access: ProxmoxAccess) -> int:
    """``GET /cluster/nextid``: the lowest VMID the cluster has not used."""
    return int(call("reading /cluster/nextid", lambda: access.client().cluster.nextid.get()))


def guest_status(access: ProxmoxAccess, kind: str, node: str, vmid: int) -> dict[str, Any] | None:
    """``status/current`` of one guest, or None when it does not exist on ``node``."""
    api = getattr(access.client().nodes(node), API_OF_KIND[kind])
    try:
        return dict(call(f"reading the status of {vmid}", lambda: api(vmid).status.current.get()))
    except GuestGone:
        return None
