"""The running control plane's components: PostgreSQL, Vault and (optionally) Redis, embedded or external.

``controlplane up`` and ``controlplane api`` build a :class:`Stack`, start it, and hand its pieces to
the API and the workers; stopping it stops everything it started, and nothing else.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from sqlalchemy.engine import Engine

from controlplane.api.deps import UVICORN_PROXY_OPTIONS
from controlplane.api.http_protocol import deadline_protocol
from controlplane.config import Settings, require_vault_login
from controlplane.db import migrate
from controlplane.db.embedded import EmbeddedPostgres
from controlplane.db.engine import check_app_role, create_app_engine
from controlplane.drivers.embedded_vault import EmbeddedOpenBao
from controlplane.drivers.vault import VaultStore
from controlplane.drivers.vault_approle import AppRoleCredentials
from controlplane.drivers.vault_kubernetes import KubernetesCredentials
from controlplane.errors import ComponentError
from controlplane.util.heap import settle_after_start

log = logging.getLogger(__name__)
H11_MAX_INCOMPLETE_EVENT_SIZE = 64 * 1024
"""With the h11 implementation: the largest request head buffered before it is refused."""

Reporter = Callable[[str], None]
DATABASE_WAIT = 60.0
"""Seconds a start waits for an external PostgreSQL that does not accept connections yet (it may be starting
or restarting beside us); a refused login fails at once."""


@dataclass
class DatabaseTarget:
    """Where the database is: the owner URL for migrations, and the application role's URL if separate."""

    owner_url: str
    app_url: str | None


@dataclass
class Stack:
    """Start and stop the components one control plane needs, as its settings say."""

    settings: Settings
    report: Reporter = print
    postgres: EmbeddedPostgres | None = None
    vault_server: EmbeddedOpenBao | None = None
    database: DatabaseTarget | None = None
    vault: VaultStore | None = None
    app_engine: Engine | None = None
    _stoppers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        """The absolute data directory."""
        return self.settings.data_dir.resolve()

    def start_database(self) -> DatabaseTarget:
        """Start embedded PostgreSQL (unless a URL is configured) and migrate it to the newest schema."""
        if self.settings.database_url is None:
            self.report(f"PostgreSQL: starting the embedded server (data in {self.data_dir / 'postgres'})")
            self.postgres = EmbeddedPostgres(self.data_dir / "postgres")
            self.postgres.start()
            self._stoppers.append(self.postgres.stop)
            urls = self.postgres.ensure_database()
            self.database = DatabaseTarget(owner_url=urls.owner, app_url=urls.app)
        else:
            self.report("PostgreSQL: using CONTROLPLANE_DATABASE_URL")
            app_url = self.settings.app_database_url
            self.database = DatabaseTarget(
                owner_url=self.settings.database_url.get_secret_value(),
                app_url=app_url.get_secret_value() if app_url else None,
            )
        before = migrate.current_revision_when_reachable(self.database.owner_url, DATABASE_WAIT, on_wait=self.report)
        migrate.upgrade(self.database.owner_url)
        after = migrate.current_revision(self.database.owner_url)
        self.report(f"PostgreSQL: schema at revision {after}" + (f" (was {before})" if before != after else ""))
        self.app_engine = create_app_engine(self.database.app_url, self.database.owner_url)
        self._stoppers.append(self.app_engine.dispose)
        check_app_role(self.app_engine)
        return self.database

    def start_vault(self) -> VaultStore:
        """Start embedded OpenBao (unless an address is configured) and connect to it."""
        require_vault_login(self.settings)
        if self.settings.vault_addr is None:
            self.report(f"Vault: starting embedded OpenBao (data in {self.data_dir / 'openbao'})")
            self.vault_server = EmbeddedOpenBao(self.data_dir / "openbao", kv_mount=self.settings.vault_kv_mount)
            self.vault_server.start()
            self._stoppers.append(self.vault_server.stop)
            addr, token = self.vault_server.addr, self.vault_server.token
        elif self.settings.vault_kubernetes_role is not None:
            addr = self.settings.vault_addr
            self.report(f"Vault: using {addr} (Kubernetes auth, role {self.settings.vault_kubernetes_role})")
            credentials = KubernetesCredentials(self.settings.vault_kubernetes_role,
                                                self.settings.vault_kubernetes_token_file,
                                                mount=self.settings.vault_kubernetes_mount)
            self.vault = VaultStore.with_login(addr, credentials, mount=self.settings.vault_kv_mount)
            self._stoppers.append(self.vault.close)
            return self._check_vault(addr)
        elif (approle := self.settings.vault_approle()) is not None:
            addr = self.settings.vault_addr
            self.report(f"Vault: using {addr} (AppRole)")
            self.vault = VaultStore.with_login(addr, AppRoleCredentials(*approle), mount=self.settings.vault_kv_mount)
            self._stoppers.append(self.vault.close)
            return self._check_vault(addr)
        else:
            assert self.settings.vault_token is not None
            addr, token = self.settings.vault_addr, self.settings.vault_token.get_secret_value()
            self.report(f"Vault: using {addr}")
        self.vault = VaultStore(addr, token, mount=self.settings.vault_kv_mount)
        return self._check_vault(addr)

    def _check_vault(self, addr: str) -> VaultStore:
        assert self.vault is not None
        health = self.vault.health()
        if not health.ready:
            raise ComponentError(f"Vault at {addr} is not ready: {health.detail}", component="vault")
        return self.vault

    def start(self) -> Stack:
        """Start every component; on failure, stop what was started and re-raise."""
        require_vault_login(self.settings)  # before anything starts
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.start_database()
            self.start_vault()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop everything this stack started, newest first."""
        while self._stoppers:
            stopper = self._stoppers.pop()
            try:
                stopper()
            except Exception:  # stopping must go on for the rest
                log.exception("error while stopping a component")

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def http_server_config(app: object, settings: Settings, *, port: int | None = None) -> uvicorn.Config:
    """The uvicorn settings of the API server: slow clients are cut off (request head deadline, keep-alive
    timeout, head size limit); proxy headers are left to the app (``CONTROLPLANE_TRUSTED_PROXIES``)."""
    return uvicorn.Config(
        app, host=settings.http_host, port=settings.http_port if port is None else port, log_level="warning",
        http=deadline_protocol(settings.header_read_timeout), timeout_keep_alive=settings.keep_alive_timeout,
        h11_max_incomplete_event_size=H11_MAX_INCOMPLETE_EVENT_SIZE, **UVICORN_PROXY_OPTIONS,
        **({"log_config": None} if settings.log_format == "json" else {}),  # JSON: uvicorn logs via the root logger
    )


class AnnouncingServer(uvicorn.Server):
    """The API's uvicorn server, calling ``on_ready`` once it listens (to tell the operator how long the
    start took)."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's start-up; then ``on_ready`` if the server is listening."""
        await super().startup(sockets=sockets)
        if self.started:
            settle_after_start()
            self._on_ready()
