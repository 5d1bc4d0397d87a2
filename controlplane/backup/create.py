"""``controlplane backup DIR``: dump the database from one snapshot, export the control plane's secrets,
copy the demo cluster's simulator state when there is one, and write the manifest last."""

from __future__ import annotations

import contextlib
import json
import tarfile
from datetime import UTC, datetime
from pathlib import Path

from controlplane import __version__
from controlplane.backup import files, manifest, targets
from controlplane.backup.progress import Progress
from controlplane.config import Settings
from controlplane.db import contents, migrate
from controlplane.drivers import pg_tools
from controlplane.drivers.vault import VaultStore
from controlplane.errors import InvalidInput, NotFound

SECRETS_PREFIX = "controlplane/"
"""The folder of the KV mount that holds every secret of the control plane."""
VAULT_FORMAT = 1


def create_backup(settings: Settings, directory: Path, *, force: bool, progress: Progress) -> manifest.Manifest:
    """Write a complete backup of the installation ``settings`` describe into ``directory``."""
    created_at = datetime.now(UTC)
    out = files.prepare_directory(directory, force=force, ours=manifest.FILES)
    entries: dict[str, manifest.FileEntry] = {}
    with targets.database(settings, progress.step, existing=True) as db:
        revision = migrate.current_revision(db.owner_url)
        if revision is None:
            raise InvalidInput("the database has no schema yet: there is nothing to back up", field="DIR")
        postgres = _dump(db, out, progress)
        entries[manifest.POSTGRES_DUMP] = manifest.entry(out / manifest.POSTGRES_DUMP, "PostgreSQL dump "
                                                         "(custom format): every table of the control plane")
    with targets.vault(settings, progress.step, existing=True, running_ok=True) as vault:
        count = _export_secrets(vault.store, out / manifest.VAULT_EXPORT, progress)
        entries[manifest.VAULT_EXPORT] = manifest.entry(out / manifest.VAULT_EXPORT, "the control plane's "
                                                        f"secrets in Vault KV v2 (mount {vault.store.mount})")
        vault_part = manifest.VaultPart(source="embedded" if vault.embedded else "external",
                                        mount=vault.store.mount, prefix=SECRETS_PREFIX, secrets=count)
    simulator = settings.data_dir.resolve() / "pvesim"
    demo = db.embedded and simulator.is_dir()
    if demo:
        _archive(simulator, out / manifest.SIMULATOR_STATE)
        entries[manifest.SIMULATOR_STATE] = manifest.entry(out / manifest.SIMULATOR_STATE,
                                                           "the demo cluster's Proxmox VE simulator (state, CA)")
        progress.step("Demo cluster: the simulator's state copied")
    result = manifest.Manifest(
        controlplane_version=__version__, created_at=created_at, migration_revision=revision,
        code_head=migrate.head_revision(), postgresql=postgres, vault=vault_part, demo_cluster=demo,
        files=entries,  # type: ignore[arg-type]
    )
    manifest.write(out, result)
    return result


def _dump(db: targets.Database, out: Path, progress: Progress) -> manifest.PostgresPart:
    with contents.snapshot(db.owner_url) as (snapshot_id, facts):
        tool = pg_tools.find_tool("pg_dump", facts.server_major)
        total = len(facts.tables)
        progress.step(f"PostgreSQL {facts.server_version}: dumping {total} tables "
                      f"({sum(facts.tables.values())} rows) with pg_dump {tool.version}")
        with files.private_file(out / manifest.POSTGRES_DUMP) as fd:
            pg_tools.dump(tool, db.owner_url, fd, progress.counter("tables", total), snapshot=snapshot_id)
    return manifest.PostgresPart(source="embedded" if db.embedded else "external",
                                 server_version=facts.server_version, pg_dump_version=tool.version,
                                 tables=facts.tables)


def _export_secrets(store: VaultStore, path: Path, progress: Progress) -> int:
    paths = store.walk(SECRETS_PREFIX)
    progress.step(f"Vault: exporting {len(paths)} secrets under {store.mount}/{SECRETS_PREFIX}")
    secrets: dict[str, dict[str, object]] = {}
    for done, secret_path in enumerate(paths, 1):
        with contextlib.suppress(NotFound):  # its latest version was deleted: nothing to keep
            secrets[secret_path] = dict(store.read(secret_path))
        progress.item("secrets", done, len(paths))
    document = {"format": VAULT_FORMAT, "mount": store.mount, "secrets": secrets}
    files.write_private(path, json.dumps(document, sort_keys=True).encode())
    return len(secrets)


def _archive(source: Path, target: Path) -> None:
    with files.private_file(target) as fd, open(fd, "wb", closefd=False) as raw, \
            tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for path in sorted(source.rglob("*")):
            if path.is_file() and not path.name.startswith(".pvesim-"):  # not a state file being written
                tar.add(path, arcname=str(path.relative_to(source)), recursive=False)
