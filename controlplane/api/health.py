"""Liveness (``/healthz``) and readiness (``/readyz``: each component with its status).

Anonymous callers see each component's status only; versions, errors and addresses (which tell an attacker
what to aim at) are shown to authenticated admins, or to everyone with ``CONTROLPLANE_READYZ_DETAILS``."""

from __future__ import annotations

from typing import Any

import redis
import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from controlplane.api.deps import AppDeps, authenticated
from controlplane.errors import ControlPlaneError
from controlplane.models.records import Readiness

router = APIRouter(tags=["health"])
PUBLIC_FIELDS = ("status", "required")


def check_postgresql(deps: AppDeps) -> dict[str, Any]:
    """PostgreSQL answers a query as the application role."""
    try:
        with deps.app_engine.connect() as conn:
            version = conn.execute(sa.text("SHOW server_version")).scalar_one()
        return {"status": "ok", "version": str(version).split()[0], "required": True}
    except Exception as exc:  # any failure means not ready; the message says why
        return {"status": "down", "error": str(exc).splitlines()[0], "required": True}


def check_vault(deps: AppDeps) -> dict[str, Any]:
    """Vault is initialised, unsealed and accepts our token."""
    health = deps.vault.health()
    result: dict[str, Any] = {"status": "ok" if health.ready else "down", "version": health.version, "required": True}
    if health.detail:
        result["error"] = health.detail
    return result


def check_redis(url: str) -> dict[str, Any]:
    """Redis answers PING (only checked when configured)."""
    try:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        client.ping()
        version = client.info("server").get("redis_version", "")
        client.close()
        return {"status": "ok", "version": version, "required": True}
    except redis.RedisError as exc:
        return {"status": "down", "error": str(exc), "required": True}


def readiness(deps: AppDeps) -> dict[str, dict[str, Any]]:
    """The status of every component the control plane uses."""
    components = {"postgresql": check_postgresql(deps), "vault": check_vault(deps)}
    if deps.settings.redis_url is not None:
        components["redis"] = check_redis(deps.settings.redis_url.get_secret_value())
    for name, check in deps.extra_checks.items():
        components[name] = dict(check())
    return components


@router.get("/healthz", summary="Liveness: the process serves HTTP", operation_id="healthz")
def healthz() -> dict[str, str]:
    """Always ok while the process can answer."""
    return {"status": "ok"}


def shows_details(request: Request) -> bool:
    """Whether this caller may see versions and errors: the setting says so, or an admin is asking."""
    if request.app.state.deps.settings.readyz_details:
        return True
    if "authorization" not in request.headers:
        return False
    try:
        with authenticated(request) as caller:
            return caller.is_admin
    except ControlPlaneError:  # a bad credential only means no details; readiness stays public
        return False


@router.get("/readyz", summary="Readiness: every required component is up", operation_id="readyz",
            response_model=Readiness,
            responses={503: {"model": Readiness, "description": "A required component is down"}})
def readyz(request: Request) -> JSONResponse:
    """200 when every required component is up, 503 otherwise; the body lists each component (with versions
    and errors for admins)."""
    components = readiness(request.app.state.deps)
    ready = all(c["status"] == "ok" for c in components.values() if c.get("required", True))
    if not shows_details(request):
        components = {name: {k: v for k, v in c.items() if k in PUBLIC_FIELDS} for name, c in components.items()}
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "components": components}, status_code=200 if ready else 503
    )
