"""The one place where our exceptions become HTTP status codes and JSON error bodies.

A 5xx body never shows the server's file system: absolute paths in a component's message (sockets, run
directories, key files) become ``<path>``; the full message goes to the log with the request id.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from controlplane import errors
from controlplane.util.paths_text import without_paths

log = logging.getLogger(__name__)

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


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.ControlPlaneError)
    status = status_for(exc)
    message = exc.message
    if status >= 500:
        log.warning("request %s failed: %s", getattr(request.state, "request_id", ""), message)
        message = without_paths(message)
    body: dict[str, object] = {"detail": message}
    if exc.field:
        body["field"] = exc.field
    headers = {}
    if isinstance(exc, errors.RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, errors.Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=status, headers=headers)


def _field(loc: tuple[object, ...] | list[object]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] or parts
    return ".".join(parts)


async def _handle_validation(_request: Request, exc: Exception) -> JSONResponse:
    """422 naming the field; the submitted values are not echoed (they may be passwords or secrets)."""
    assert isinstance(exc, RequestValidationError)
    problems = [{"loc": list(err.get("loc", ())), "field": _field(err.get("loc", ())), "msg": err.get("msg", ""),
                 "type": err.get("type", "")} for err in exc.errors()]
    first = problems[0] if problems else {"field": "", "msg": "invalid request"}
    return JSONResponse(
        {"detail": f"{first['field']}: {first['msg']}", "field": first["field"], "errors": problems},
        status_code=422,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the mapping on ``app``."""
    app.add_exception_handler(errors.ControlPlaneError, _handle)
    app.add_exception_handler(RequestValidationError, _handle_validation)
