"""The one place where our exceptions become HTTP status codes and JSON error bodies."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from controlplane import errors

STATUS_CODES: list[tuple[type[errors.ControlPlaneError], int]] = [
    (errors.QuotaExceeded, 409),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.PreconditionFailed, 412),
    (errors.InvalidInput, 422),
    (errors.Unauthenticated, 401),
    (errors.PermissionDenied, 403),
    (errors.RateLimited, 429),
    (errors.ConfigError, 500),
    (errors.TemporaryError, 503),
    (errors.ComponentError, 502),
]


def status_for(exc: errors.ControlPlaneError) -> int:
    """The HTTP status code for one of our exceptions (most specific class first)."""
    for cls, status in STATUS_CODES:
        if isinstance(exc, cls):
            return status
    return 500


async def _handle(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.ControlPlaneError)
    body: dict[str, object] = {"detail": exc.message}
    if exc.field:
        body["field"] = exc.field
    headers = {}
    if isinstance(exc, errors.RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, errors.Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=status_for(exc), headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Register the mapping on ``app``."""
    app.add_exception_handler(errors.ControlPlaneError, _handle)
