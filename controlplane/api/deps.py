"""What the API needs from the running system, handed to ``create_app`` (no import-time singletons),
and the per-request dependencies: the authenticated caller and its database transactions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.engine import Engine

from controlplane.config import Settings
from controlplane.drivers.vault import VaultStore
from controlplane.errors import PermissionDenied, Unauthenticated
from controlplane.services import auth, sessions
from controlplane.services.auth import AuthPolicy, Limiter, Mailer
from controlplane.services.caller import READ, WRITE, Caller, request_caller
from controlplane.services.clusters import Prober
from controlplane.services.dberrors import translated
from controlplane.services.tokens import TokenIssuer
from controlplane.services.transactions import Db, OpenTransaction

ComponentCheck = Callable[[], dict[str, object]]
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# the app decides which peers may tell it the client address (``trusted_proxies``); uvicorn must not
UVICORN_PROXY_OPTIONS: dict[str, Any] = {"proxy_headers": False, "forwarded_allow_ips": ""}


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


def request_meta(request: Request) -> Caller:
    """An unauthenticated caller carrying this request's client IP, user agent and request id."""
    peer = request.client.host if request.client else ""
    trusted = tuple(runtime(request).deps.settings.trusted_proxy_list)
    return request_caller(peer, request.headers, getattr(request.state, "request_id", ""), trusted)


@contextmanager
def authenticated(request: Request) -> Iterator[Caller]:
    """The caller behind ``Authorization: Bearer <JWT or API key>``; 401 without one, 403 beyond its scopes.

    An access token is checked against its user's row in a transaction that then acts as the caller, kept
    for the request's first read or write (:func:`get_db`) and ended with the block.
    """
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise Unauthenticated("missing bearer token (a JWT access token or an API key)")
    credential = credential.strip()
    rt = runtime(request)
    meta = request_meta(request)
    needed = WRITE if request.method in WRITE_METHODS else READ
    opened: OpenTransaction | None = None
    try:
        with translated():  # the database down is a 503, not a 500
            if credential.startswith("cp_"):
                caller = auth.authenticate_api_key(rt.deps.app_engine, meta, credential, request.method,
                                                   request.url.path)
            else:
                token = rt.issuer.decode(credential)
                opened = OpenTransaction(rt.deps.app_engine, token.caller.context())
                caller = sessions.check_in(opened.session, token).with_request(
                    ip=meta.ip, user_agent=meta.user_agent, request_id=meta.request_id
                )
        if needed not in caller.scopes:
            raise PermissionDenied(f"the API key lacks the {needed!r} scope")
        request.state.first_transaction = opened
        yield caller
    finally:
        if opened is not None:
            opened.close()


def authenticate(request: Request) -> Iterator[Caller]:
    """The request's authenticated caller (:func:`authenticated`), for the whole request."""
    with authenticated(request) as caller:
        yield caller


CallerDep = Annotated[Caller, Depends(authenticate)]


def get_db(request: Request, caller: CallerDep) -> Db:
    """Transactions as the authenticated caller; the first in the one its credential was checked in."""
    return Db(runtime(request).deps.app_engine, caller, first=request.state.first_transaction)


DbDep = Annotated[Db, Depends(get_db)]
RuntimeDep = Annotated[Runtime, Depends(runtime)]
