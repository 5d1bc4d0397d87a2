"""Who is calling and from where: the identity every use case receives, and its database context."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from uuid import UUID

from controlplane.db.engine import RequestContext

READ = "read"
WRITE = "write"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Caller:
    """An authenticated principal (a user, through a JWT or one of their API keys) and request metadata."""

    user_id: UUID | None
    tenant_id: UUID | None
    role: str
    email: str = ""
    api_key_id: UUID | None = None
    scopes: frozenset[str] = field(default_factory=lambda: frozenset({READ, WRITE}))
    ip: str = ""
    user_agent: str = ""
    request_id: str = ""

    @property
    def is_admin(self) -> bool:
        """Admins act on every tenant."""
        return self.role == "admin"

    @property
    def is_manager(self) -> bool:
        """Managers act on everything of their tenant."""
        return self.role == "manager"

    @property
    def actor(self) -> str:
        """How audit events name this caller."""
        if self.role == "system":
            return "system"
        suffix = f" (key {self.api_key_id})" if self.api_key_id else ""
        return (self.email or str(self.user_id)) + suffix

    def context(self) -> RequestContext:
        """The database context (role, tenant, user) for Row-Level Security."""
        return RequestContext(role=self.role, tenant_id=self.tenant_id, user_id=self.user_id)

    def with_request(self, *, ip: str, user_agent: str, request_id: str) -> Caller:
        """The same principal with this request's metadata."""
        return replace(self, ip=ip, user_agent=user_agent[:512], request_id=request_id)


def system_caller(*, ip: str = "", user_agent: str = "", request_id: str = "") -> Caller:
    """The control plane itself (pre-authentication bookkeeping, the reconciler), acting for every tenant."""
    return Caller(user_id=None, tenant_id=None, role="system", ip=ip, user_agent=user_agent, request_id=request_id)


@lru_cache(maxsize=8)
def _networks(spec: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in spec)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(peer: str, forwarded_for: str, trusted: tuple[str, ...]) -> str:
    """The client's address: the peer's, unless the peer is one of the ``trusted`` proxies (addresses or
    networks); then the rightmost ``X-Forwarded-For`` entry that is not itself a trusted proxy (entries
    left of it are the client's own word)."""
    networks = _networks(trusted)
    if not networks or not _trusted(peer, networks):
        return peer
    client = peer
    for entry in reversed([part.strip() for part in forwarded_for.split(",") if part.strip()]):
        try:
            client = str(ipaddress.ip_address(entry))
        except ValueError:
            break  # garbage from the client's side: the last good hop stands
        if not _trusted(client, networks):
            break
    return client


def request_caller(peer: str, headers: Mapping[str, str], request_id: str, trusted: tuple[str, ...]) -> Caller:
    """An unauthenticated caller for one HTTP request: its client address (see :func:`client_address`), its
    user agent (at most 512 characters) and its request id."""
    return system_caller(ip=client_address(peer, headers.get("x-forwarded-for", ""), trusted),
                         user_agent=headers.get("user-agent", "")[:512], request_id=request_id)


def client_bucket(address: str) -> str:
    """The key a client is throttled by: its IPv4 address, or the /64 network of an IPv6 address (one
    machine often holds a whole /64, so single IPv6 addresses would be free to rotate)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
