"""``controlplane restore DIR``: put a backup back into an empty install (or, with ``--force``, over one).

Everything is checked before anything changes: the manifest and the checksums, the schema revision (an
older one is migrated after the restore, a newer one refused), that no control plane process uses the
target, and that its database holds no data. Then the database is restored in one transaction, migrated
to this version's head, the secrets are written back to Vault, the demo cluster's simulator state put back
(embedded installs), and the restore is recorded in the audit log.
"""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from controlplane import __version__
from controlplane.backup import manifest, targets
from controlplane.backup.create import SECRETS_PREFIX, VAULT_FORMAT
from controlplane.backup.progress import Progress
from controlplane.config import Settings
from controlplane.db import contents, migrate
from controlplane.db.engine import create_engine
from controlplane.drivers import pg_tools
from controlplane.drivers.vault import VaultStore
from controlplane.errors import Conflict, InvalidInput
from controlplane.services import audit
from controlplane.services.caller import Caller

RESTORER = Caller(user_id=None, tenant_id=None, role="admin", email="controlplane restore")


class VaultExport(BaseModel):
    """The secrets file of a backup, read strictly: every path inside the control plane's folder."""

    model_config = ConfigDict(extra="forbid")
    format: int = Field(ge=VAULT_FORMAT, le=VAULT_FORMAT)
    mount: str
    secrets: dict[str, dict[str, Any]]

    @field_validator("secrets")
    @classmethod
    def _inside_prefix(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for path in value:
            parts = path.split("/")
            if not path.startswith(SECRETS_PREFIX) or any(p in ("", ".", "..") for p in parts):
                raise ValueError(f"secret path {path!r} is outside {SECRETS_PREFIX}")
        return value


def _read_secrets(path: Path) -> VaultExport:
    try:
        return VaultExport.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InvalidInput(f"{path}: {'.'.join(map(str, err['loc']))}: {err['msg']}", field="DIR") from exc


def _check_revision(found: manifest.Manifest) -> None:
    revision = found.migration_revision
    if not migrate.is_known(revision):
        raise Conflict(f"the backup's schema revision {revision} (controlplane {found.controlplane_version}) is "
                       f"newer than this version knows (head {migrate.head_revision()}, controlplane "
                       f"{__version__}): restore it with controlplane {found.controlplane_version} or newer",
                       field="DIR")


def _check_target(db: targets.Database, *, force: bool) -> contents.DatabaseFacts:
    others = contents.other_sessions(db.owner_url)
    if others:
        raise Conflict(f"{len(others)} other connections to the target database ({', '.join(sorted(set(others)))}): "
                       "stop every controlplane api, worker and up process using it first", field="DIR")
    facts = contents.facts(db.owner_url)
    data = facts.data_tables()
    if data and not force:
        listed = ", ".join(f"{name.removeprefix('public.')} ({rows})" for name, rows in sorted(data.items()))
        raise Conflict("the target database is not empty (rows in " + listed + "): restore into an empty "
                       "install, or give --force to replace everything in it with the backup", field="DIR")
    current = migrate.current_revision(db.owner_url)
    if current is not None and not migrate.is_known(current):
        raise Conflict(f"the target database is at revision {current}, unknown to this version: it cannot be "
                       "cleared before the restore", field="DIR")
    return facts


def _simulator_target(settings: Settings, found: manifest.Manifest, db: targets.Database, *,
                      force: bool) -> Path | None:
    if not found.demo_cluster or not db.embedded:
        return None
    target = settings.data_dir.resolve() / "pvesim"
    if target.is_dir() and any(target.iterdir()) and not force:
        raise Conflict(f"{target} holds a simulator's state already: give --force to replace it", field="DIR")
    return target


def restore_backup(settings: Settings, directory: Path, *, force: bool, progress: Progress) -> manifest.Manifest:
    """Restore the backup in ``directory`` into the installation ``settings`` describe."""
    found = manifest.load(directory)
    progress.step(f"Backup {directory}: {found.describe()}; checksums verified")
    _check_revision(found)
    secrets = _read_secrets(directory / manifest.VAULT_EXPORT)
    archive = directory / manifest.POSTGRES_DUMP
    with targets.vault(settings, progress.step, existing=False, running_ok=False) as vault, \
            targets.database(settings, progress.step, existing=False) as db:
        facts = _check_target(db, force=force)
        simulator = _simulator_target(settings, found, db, force=force)
        tool = _restore_tool(facts.server_major, archive)
        _clear(db, progress)
        _restore_database(tool, db, archive, found, progress)
        before = migrate.current_revision(db.owner_url)
        migrate.upgrade(db.owner_url)
        after = migrate.current_revision(db.owner_url)
        progress.step(f"PostgreSQL: schema at revision {after}" + (f" (migrated from {before})" if before != after
                                                                    else ""))
        _write_secrets(vault.store, secrets, force=force, progress=progress)
        if simulator is not None:
            _put_simulator(directory / manifest.SIMULATOR_STATE, simulator)
            progress.step(f"Demo cluster: the simulator's state put back in {simulator}")
        elif found.demo_cluster:
            progress.step("Demo cluster: not restored (the target is not an embedded install)")
        _record(db, found, directory)
    return found


def _restore_tool(server_major: int, archive: Path) -> pg_tools.Tool:
    tool = pg_tools.find_tool("pg_restore", server_major)
    made_by = pg_tools.archive_version(tool, archive)
    return tool if made_by <= tool.major else pg_tools.find_tool("pg_restore", made_by)


def _clear(db: targets.Database, progress: Progress) -> None:
    """Remove every object our migrations made (the backup brings its own), by migrating down to nothing."""
    if migrate.current_revision(db.owner_url) is not None:
        progress.step("PostgreSQL: removing the target's schema (migrating down to base)")
        migrate.downgrade(db.owner_url, "base")


def _restore_database(tool: pg_tools.Tool, db: targets.Database, archive: Path, found: manifest.Manifest,
                      progress: Progress) -> None:
    migrate.ensure_app_role(db.owner_url)  # the dump grants to these roles; they are not in it
    migrate.ensure_state_role(db.owner_url)
    total = len(found.postgresql.tables)
    progress.step(f"PostgreSQL: restoring {total} tables ({sum(found.postgresql.tables.values())} rows) "
                  f"with pg_restore {tool.version}, in one transaction")
    pg_tools.restore(tool, db.owner_url, archive, progress.counter("tables", total))


def _write_secrets(store: VaultStore, export: VaultExport, *, force: bool, progress: Progress) -> None:
    if export.mount != store.mount:
        progress.step(f"Vault: the backup's secrets came from mount {export.mount}; writing them to {store.mount}")
    total = len(export.secrets)
    progress.step(f"Vault: writing {total} secrets under {store.mount}/{SECRETS_PREFIX}")
    for done, (path, data) in enumerate(sorted(export.secrets.items()), 1):
        store.write(path, data)
        progress.item("secrets", done, total)
    extra = [path for path in store.walk(SECRETS_PREFIX) if path not in export.secrets]
    if extra and force:
        for path in extra:
            store.delete(path)
        progress.step(f"Vault: removed {len(extra)} secrets the backup does not have")
    elif extra:
        progress.step(f"Vault: left {len(extra)} secrets the backup does not have (--force removes them)")


def _put_simulator(archive: Path, target: Path) -> None:
    with tarfile.open(archive, "r:gz") as tar:
        members = tar.getmembers()
        for member in members:  # regular files inside the target only: no links, devices, ../
            if not member.isfile() or Path(member.name).is_absolute() or ".." in Path(member.name).parts:
                raise InvalidInput(f"{archive.name}: unexpected entry {member.name!r}", field="DIR")
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True, mode=0o700)
        for member in members:
            path = target.joinpath(*Path(member.name).parts)
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            source = tar.extractfile(member)
            assert source is not None
            with source, open(path, "wb") as out:
                shutil.copyfileobj(source, out)
            path.chmod(0o600)


def _record(db: targets.Database, found: manifest.Manifest, directory: Path) -> None:
    engine = create_engine(db.owner_url, pool_size=1)
    try:
        with engine.begin() as conn:
            audit.record(conn, RESTORER, "backup.restore", target_kind="backup", target_name=str(directory),
                         details={"created_at": found.created_at.isoformat(),
                                  "revision": found.migration_revision,
                                  "controlplane_version": found.controlplane_version})
    finally:
        engine.dispose()

