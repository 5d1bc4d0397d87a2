"""What the API needs from the running system, handed to ``create_app`` (no import-time singletons),
and the per-request dependencies: the authenticated caller and its database transactions."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.engine import Engine

from controlplane.config import Settings
from controlplane.drivers.vault import VaultStore
from controlplane.errors import PermissionDenied, Unauthenticated
from controlplane.services import auth, sessions
from controlplane.services.auth import AuthPolicy, Limiter, Mailer
from controlplane.services.caller import READ, WRITE, Caller, system_caller
from controlplane.services.clusters import Prober
from controlplane.services.tokens import TokenIssuer
from controlplane.services.transactions import Db

ComponentCheck = Callable[[], dict[str, object]]
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# the app decides which peers may tell it the client address (``trusted_proxies``); uvicorn must not
UVICORN_PROXY_OPTIONS: dict[str, Any] = {"proxy_headers": False, "forwarded_allow_ips": ""}
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass
class AppDeps:
    """The engines, stores and extra readiness checks of one running control plane.

    ``limiter``, ``mailer`` and ``prober`` are built from the settings when not given.
    """

    settings: Settings
    app_engine: Engine
    vault: VaultStore
    extra_checks: dict[str, ComponentCheck] = field(default_factory=dict)
    limiter: Limiter | None = None
    mailer: Mailer | None = None
    prober: Prober | None = None


@dataclass
class Runtime:
    """What the app built at start: token issuer, limiter, mailer, prober and auth policy."""

    deps: AppDeps
    issuer: TokenIssuer
    limiter: Limiter
    mailer: Mailer | None
    prober: Prober
    policy: AuthPolicy


def runtime(request: Request) -> Runtime:
    """The app's runtime objects."""
    return request.app.state.runtime  # type: ignore[no-any-return]


@lru_cache(maxsize=8)
def _networks(spec: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in spec)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_ip(peer: str, forwarded_for: str, trusted: tuple[str, ...]) -> str:
    """The client's address: the peer's, unless the peer is a trusted proxy; then the rightmost
    ``X-Forwarded-For`` entry that is not itself a trusted proxy (entries left of it are the client's word)."""
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


def request_meta(request: Request) -> Caller:
    """An unauthenticated caller carrying this request's client IP, user agent and request id."""
    peer = request.client.host if request.client else ""
    trusted = tuple(runtime(request).deps.settings.trusted_proxy_list)
    return system_caller(
        ip=client_ip(peer, request.headers.get("x-forwarded-for", ""), trusted),
        user_agent=request.headers.get("user-agent", "")[:512],
        request_id=getattr(request.state, "request_id", ""),
    )


def authenticate(request: Request) -> Caller:
    """The caller behind ``Authorization: Bearer <JWT or API key>``; 401 without one, 403 beyond its scopes."""
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise Unauthenticated("missing bearer token (a JWT access token or an API key)")
    credential = credential.strip()
    rt = runtime(request)
    meta = request_meta(request)
    if credential.startswith("cp_"):
        caller = auth.authenticate_api_key(rt.deps.app_engine, meta, credential, request.method,
                                           request.url.path)
    else:
        caller = sessions.check(rt.deps.app_engine, rt.issuer.decode(credential)).with_request(
            ip=meta.ip, user_agent=meta.user_agent, request_id=meta.request_id
        )
    needed = WRITE if request.method in WRITE_METHODS else READ
    if needed not in caller.scopes:
        raise PermissionDenied(f"the API key lacks the {needed!r} scope")
    return caller


CallerDep = Annotated[Caller, Depends(authenticate)]


def get_db(request: Request, caller: CallerDep) -> Db:
    """Transactions as the authenticated caller."""
    return Db(runtime(request).deps.app_engine, caller)


DbDep = Annotated[Db, Depends(get_db)]
RuntimeDep = Annotated[Runtime, Depends(runtime)]
