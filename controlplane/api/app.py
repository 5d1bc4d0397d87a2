"""The FastAPI application factory: health endpoints and the ``/api/v1`` routers."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

from fastapi import APIRouter, FastAPI, Request, Response
from starlette.types import ASGIApp

from controlplane import __version__, portal
from controlplane.api import health, metrics, openapi
from controlplane.api.deps import AppDeps, Runtime
from controlplane.api.docs import mount_docs
from controlplane.api.errors import install_error_handlers
from controlplane.api.mailer import SmtpMailer
from controlplane.api.middleware import RequestGuard
from controlplane.api.ratelimit import MemoryLimiter, RedisLimiter
from controlplane.api.routes import (
    api_keys,
    auth,
    clusters,
    git_sources,
    gitops,
    guests,
    projects,
    records,
    tenants,
    users,
)
from controlplane.api.signing import load_or_create_key
from controlplane.config import Settings
from controlplane.drivers.proxmox_probe import probe
from controlplane.services.auth import AuthPolicy
from controlplane.services.guests import CONTAINER, VM
from controlplane.services.tokens import TokenIssuer
from controlplane.util import logs

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def _policy(settings: Settings) -> AuthPolicy:
    return AuthPolicy(
        refresh_ttl=timedelta(seconds=settings.refresh_token_ttl),
        reset_ttl=timedelta(seconds=settings.password_reset_ttl),
        login_limit_account=settings.login_limit_account,
        login_limit_ip=settings.login_limit_ip,
        login_window=settings.login_window,
        login_backoff_base=settings.login_backoff_base,
        login_backoff_max=settings.login_backoff_max,
        login_audit_limit=settings.login_audit_limit,
    )


def build_runtime(deps: AppDeps) -> Runtime:
    """The token issuer (key from Vault), rate limiter, mailer and prober of one app."""
    settings = deps.settings
    limiter = deps.limiter
    if limiter is None:
        limiter = RedisLimiter(settings.redis_url.get_secret_value()) if settings.redis_url else MemoryLimiter()
    mailer = deps.mailer
    if mailer is None and settings.smtp_host:
        mailer = SmtpMailer(
            settings.smtp_host, settings.smtp_port, settings.smtp_from, username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            starttls=settings.smtp_starttls,
        )
    return Runtime(
        deps=deps, issuer=TokenIssuer(load_or_create_key(deps.vault), settings.access_token_ttl),
        limiter=limiter, mailer=mailer, prober=deps.prober or probe, policy=_policy(settings),
    )


def api_router() -> APIRouter:
    """Every resource router under ``/api/v1``."""
    router = APIRouter(prefix="/api/v1")
    for module in (auth, tenants, projects, users, api_keys, clusters):
        router.include_router(module.router)
    router.include_router(guests.guest_router(VM, "/vms"))
    router.include_router(guests.guest_router(CONTAINER, "/containers"))
    router.include_router(records.router)
    router.include_router(gitops.router)
    router.include_router(git_sources.router)
    return router


class GuardedApp(FastAPI):
    """A FastAPI app whose outermost layer is the :class:`RequestGuard` (so even a 500 carries the headers)."""

    def __init__(self, *, max_body_bytes: int, body_timeout: float, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.guard_limits = {"max_body_bytes": max_body_bytes, "body_timeout": body_timeout}

    def build_middleware_stack(self) -> ASGIApp:
        """Starlette's stack, wrapped in the guard."""
        return RequestGuard(super().build_middleware_stack(), **self.guard_limits)  # type: ignore[arg-type]


def create_app(deps: AppDeps) -> FastAPI:
    """Build the HTTP app for one running control plane."""
    settings = deps.settings
    app = GuardedApp(
        title="controlplane", version=__version__, description="Desired-state control plane for Proxmox VE",
        docs_url=None, redoc_url=None, max_body_bytes=settings.max_body_bytes, body_timeout=settings.body_read_timeout,
    )
    app.state.deps = deps
    app.state.runtime = build_runtime(deps)
    install_error_handlers(app)

    @app.middleware("http")
    async def request_context(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """One layer per request: its id (kept from the client when well-formed, echoed, on every log line),
        then its metrics and access-log line."""
        given = request.headers.get("x-request-id", "")
        request.state.request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        started, status = time.perf_counter(), 500
        with logs.bound(request_id=request.state.request_id):
            try:
                response = await call_next(request)
                status = response.status_code
                response.headers["X-Request-ID"] = request.state.request_id
                return response
            finally:
                metrics.observe(request, status, time.perf_counter() - started)

    app.include_router(health.router)
    metrics.install(app)
    if settings.api_docs:
        mount_docs(app)
    app.include_router(api_router())
    portal.install(app)
    openapi.install(app)
    return app

