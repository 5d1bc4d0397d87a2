"""Where a backup comes from and a restore goes to: the configured PostgreSQL and Vault, embedded in the
data directory (started for the duration, or used where a running ``controlplane up`` has them) or
external (``CONTROLPLANE_DATABASE_URL``, ``CONTROLPLANE_VAULT_ADDR``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from controlplane.config import Settings
from controlplane.db.embedded import EmbeddedPostgres
from controlplane.drivers.embedded_vault import EmbeddedOpenBao
from controlplane.drivers.vault import VaultStore
from controlplane.errors import Conflict, InvalidInput
from controlplane.stack import Stack

Say = Callable[[str], None]


@dataclass(frozen=True)
class Database:
    """The owner role's URL, and whether the server is the embedded one."""

    owner_url: str
    embedded: bool


@dataclass(frozen=True)
class Vault:
    """A client of the secrets store, and whether it is the embedded OpenBao."""

    store: VaultStore
    embedded: bool


def postgres_dir(settings: Settings) -> Path:
    """The embedded PostgreSQL's data directory."""
    return settings.data_dir.resolve() / "postgres"


def openbao_dir(settings: Settings) -> Path:
    """The embedded OpenBao's data directory."""
    return settings.data_dir.resolve() / "openbao"


@contextmanager
def database(settings: Settings, say: Say, *, existing: bool) -> Iterator[Database]:
    """The configured database; the embedded server is started (or joined, when ``controlplane up`` runs)
    for the block. ``existing``: an embedded one must have been created already (a backup's source)."""
    if settings.database_url is not None:
        say("PostgreSQL: using CONTROLPLANE_DATABASE_URL")
        yield Database(settings.database_url.get_secret_value(), embedded=False)
        return
    directory = postgres_dir(settings)
    if existing and not (directory / "PG_VERSION").is_file():
        raise InvalidInput(f"no embedded PostgreSQL in {directory}: give the data directory of the install "
                           "(--data-dir, CONTROLPLANE_DATA_DIR) or CONTROLPLANE_DATABASE_URL", field="--data-dir")
    say(f"PostgreSQL: the embedded server in {directory}")
    server = EmbeddedPostgres(directory)
    server.start()
    try:
        yield Database(server.ensure_database().owner, embedded=True)
    finally:
        server.stop()


@contextmanager
def vault(settings: Settings, say: Say, *, existing: bool, running_ok: bool) -> Iterator[Vault]:
    """The configured Vault. The embedded OpenBao is used where a running ``controlplane up`` serves it
    (refused unless ``running_ok``), else started for the block; ``existing``: it must have been initialised
    already (a backup's source)."""
    if settings.vault_addr is None:
        server = EmbeddedOpenBao(openbao_dir(settings), kv_mount=settings.vault_kv_mount)
        if server.attach():
            if not running_ok:
                raise Conflict(f"a controlplane process is running on {settings.data_dir.resolve()}: stop it "
                               "before restoring into it", field="--data-dir")
            say(f"Vault: the embedded OpenBao of the running control plane ({server.addr})")
            yield Vault(VaultStore(server.addr, server.token, mount=settings.vault_kv_mount), embedded=True)
            return
        if existing and not server.init_file.is_file():
            raise InvalidInput(f"no embedded OpenBao in {server.data_dir}: give the data directory of the install "
                               "(--data-dir, CONTROLPLANE_DATA_DIR) or CONTROLPLANE_VAULT_ADDR", field="--data-dir")
    stack = Stack(settings, report=say)
    try:
        store = stack.start_vault()
        yield Vault(store, embedded=settings.vault_addr is None)
    finally:
        stack.stop()
