"""Where the inventory reads from: an explicit DSN, the configured database, or a running embedded one.

The Ansible inventory plugin and ``controlplane inventory`` both resolve the database here, in this order:
the ``dsn`` they were given, ``CONTROLPLANE_DATABASE_URL`` (or ``.env``) through the settings, and finally
the embedded PostgreSQL of a running ``controlplane up`` found through ``postmaster.pid`` in the data
directory. Nothing here prints a URL: it may carry a password.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from controlplane.config import Settings
from controlplane.db.embedded import socket_url
from controlplane.db.roles import DATABASE_NAME, OWNER_ROLE
from controlplane.errors import ConfigError


@dataclass(frozen=True)
class InventorySource:
    """The URL to connect with, and whether that connection must switch to the application role itself."""

    url: str
    set_app_role: bool = False

    def __repr__(self) -> str:  # never show the URL: it may hold a password
        return f"InventorySource(url=<hidden>, set_app_role={self.set_app_role})"


def embedded_socket_dir(data_dir: Path) -> str | None:
    """The socket directory of the embedded PostgreSQL running on ``data_dir``/postgres, or None."""
    pid_file = data_dir / "postgres" / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
    except OSError:
        return None
    if len(lines) < 5 or not lines[4].strip():
        return None
    return lines[4].strip()


def resolve_source(settings: Settings, *, dsn: str | None = None, tenant: bool = False) -> InventorySource:
    """The database the inventory reads; with ``tenant`` a connection that ends up as the application role.

    With a tenant the application role is needed so that Row-Level Security applies, and the owner role
    to sign the tenant claim: the connection reads the claim key as the owner, then ``SET ROLE``s to the
    application role. An explicit ``dsn`` is used as given (with a tenant it must be the owner's),
    otherwise the configured owner URL or the embedded server's owner role.
    """
    if dsn:
        return InventorySource(dsn, set_app_role=tenant)
    if settings.database_url is not None:
        return InventorySource(settings.database_url.get_secret_value(), set_app_role=tenant)
    socket_dir = embedded_socket_dir(settings.data_dir.resolve())
    if socket_dir is None:
        raise ConfigError(
            "no database for the inventory: set the `dsn` option or CONTROLPLANE_DATABASE_URL, or start "
            f"`controlplane up` (no running embedded PostgreSQL under {settings.data_dir.resolve()})"
        )
    return InventorySource(socket_url(OWNER_ROLE, socket_dir, DATABASE_NAME), set_app_role=tenant)
