"""An embedded PostgreSQL server (``pgserver``) in the data directory, for single-machine setups and tests."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg

from controlplane.db.roles import (
    APP_ROLE,
    DATABASE_NAME,
    ENSURE_APP_ROLE_SQL,
    ENSURE_OWNER_ROLE_SQL,
    ENSURE_STATE_ROLE_SQL,
    GRANT_APP_ROLE_TO_OWNER_SQL,
    OWNER_ROLE,
)
from controlplane.errors import ComponentError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatabaseUrls:
    """Connection URLs of one database, one per role."""

    superuser: str
    owner: str
    app: str


def socket_url(user: str, socket_dir: str, database: str) -> str:
    """A ``postgresql://`` URL that connects over the Unix socket in ``socket_dir``."""
    return f"postgresql://{user}@/{database}?host={socket_dir}"


class EmbeddedPostgres:
    """A real PostgreSQL server whose data lives in ``data_dir``; listens on a Unix socket only."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server = None
        self.socket_dir: str | None = None

    def start(self) -> None:
        """Start the server (or attach to the one already running on this data directory)."""
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            import pgserver  # imported lazily: it touches the filesystem at import time

        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._server = pgserver.get_server(self.data_dir, cleanup_mode="stop")
        except Exception as exc:  # pgserver raises subprocess and assertion errors
            raise ComponentError(f"embedded PostgreSQL failed to start: {exc}", component="postgresql") from exc
        query = parse_qs(urlsplit(self._server.get_uri()).query)
        self.socket_dir = query["host"][0]
        log.info("embedded PostgreSQL ready (data in %s)", self.data_dir)

    def url(self, user: str = "postgres", database: str = "postgres") -> str:
        """A URL for ``user`` and ``database`` on this server."""
        if self.socket_dir is None:
            raise ComponentError("embedded PostgreSQL is not started", component="postgresql")
        return socket_url(user, self.socket_dir, database)

    def ensure_database(self, name: str = DATABASE_NAME) -> DatabaseUrls:
        """Create the owner, application and Terraform state roles and the database ``name`` if missing;
        return its URLs."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(ENSURE_OWNER_ROLE_SQL)
            conn.execute(ENSURE_APP_ROLE_SQL)
            conn.execute(ENSURE_STATE_ROLE_SQL)
            # lets a single owner URL also act as the application role (SET ROLE), as external setups do
            conn.execute(GRANT_APP_ROLE_TO_OWNER_SQL)
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}" OWNER {OWNER_ROLE}')
        return DatabaseUrls(
            superuser=self.url("postgres", name), owner=self.url(OWNER_ROLE, name), app=self.url(APP_ROLE, name)
        )

    def stop(self) -> None:
        """Stop the server if this process started it."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None
