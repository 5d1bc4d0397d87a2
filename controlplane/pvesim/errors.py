"""Exception hierarchy of the simulator; every failure is rendered by one middleware in :mod:`app`.

PVE reports errors with a non-2xx status, the message in the HTTP reason phrase and a JSON body
``{"data": null}`` (plus ``"errors"`` for parameter problems); :class:`PveError` carries exactly that.
"""

from __future__ import annotations

from typing import Any


class PveError(Exception):
    """An API error: HTTP ``status``, the reason phrase PVE would send, and optional per-parameter errors."""

    def __init__(self, status: int, reason: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.errors = errors

    def body(self) -> dict[str, Any]:
        """The JSON body PVE sends along with this error."""
        out: dict[str, Any] = {"data": None}
        if self.errors:
            out["errors"] = self.errors
        return out


class ParamError(PveError):
    """HTTP 400 ``Parameter verification failed.`` naming each offending parameter."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(400, "Parameter verification failed.", errors)


class AuthError(PveError):
    """HTTP 401: missing or wrong credentials."""

    def __init__(self, reason: str = "authentication failure") -> None:
        super().__init__(401, reason)


class PermissionDenied(PveError):
    """HTTP 403 ``Permission check failed (path, privilege)``."""

    def __init__(self, path: str = "/", priv: str = "Sys.Audit") -> None:
        super().__init__(403, f"Permission check failed ({path}, {priv})")


class NotFound(PveError):
    """HTTP 500 "... does not exist" as PVE answers for unknown guests and volumes (bpg maps it to gone)."""

    def __init__(self, reason: str, status: int = 500) -> None:
        super().__init__(status, reason)


class NotImplementedRoute(PveError):
    """HTTP 501 for a path or method the simulator does not serve (``Method 'GET /x' not implemented``)."""

    def __init__(self, method: str, path: str) -> None:
        super().__init__(501, f"Method '{method} {path}' not implemented")


class NodeUnreachable(PveError):
    """HTTP 595 as PVE's proxy answers when the target node is offline."""

    def __init__(self, node: str) -> None:
        super().__init__(595, "No route to host")
