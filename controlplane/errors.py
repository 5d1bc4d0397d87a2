"""The project's own exception hierarchy.

Every layer raises these; foreign errors (psycopg, hvac, proxmoxer, subprocess) are translated at the
boundary in ``drivers``/``db`` and re-raised ``from exc``. The API maps them to HTTP status codes in one
place (``controlplane.api.errors``).

    ControlPlaneError
    ├── ConfigError                 bad settings; names the environment variable
    ├── NotFound                    404
    ├── Conflict                    409
    │   └── QuotaExceeded           409, says which limit, what is used and what was asked
    ├── PreconditionFailed          412 (If-Match / resource_version mismatch)
    ├── InvalidInput                422, names the field
    ├── Unauthenticated             401
    ├── PermissionDenied            403
    ├── RateLimited                 429 with retry_after
    └── ComponentError              a real component (PostgreSQL, Vault, Redis, OpenTofu, Proxmox) failed
        ├── TemporaryError          worth retrying later (timeouts, 5xx, locks)
        └── PermanentError          retrying will not help (bad credentials, invalid spec)
"""

from __future__ import annotations


class ControlPlaneError(Exception):
    """Base of every error raised on purpose by controlplane."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ConfigError(ControlPlaneError):
    """Settings are missing or invalid; the message names the environment variable."""


class NotFound(ControlPlaneError):
    """The object does not exist, or the caller may not know that it exists."""


class Conflict(ControlPlaneError):
    """The request conflicts with the current state (duplicate name, object busy)."""


class QuotaExceeded(Conflict):
    """A project quota would be exceeded."""


class PreconditionFailed(ControlPlaneError):
    """The object changed since the caller read it."""


class InvalidInput(ControlPlaneError):
    """The input is malformed; ``field`` names the offending field."""


class Unauthenticated(ControlPlaneError):
    """No valid credential was presented."""


class PermissionDenied(ControlPlaneError):
    """The caller is authenticated but not allowed to do this."""


class RateLimited(ControlPlaneError):
    """Too many attempts; retry after ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ComponentError(ControlPlaneError):
    """A real component the control plane depends on failed."""

    def __init__(self, message: str, *, component: str, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.component = component


class TemporaryError(ComponentError):
    """A failure worth retrying after a delay (timeouts, 5xx, a held lock)."""

    def __init__(self, message: str, *, component: str, delay: float | None = None) -> None:
        super().__init__(message, component=component)
        self.delay = delay


class PermanentError(ComponentError):
    """A failure that retrying will not fix (bad credentials, an invalid spec)."""
