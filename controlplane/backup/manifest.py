"""``manifest.json``: what a backup holds, what made it, and the checksum of each of its files.

It is written last, so a directory without one is an unfinished backup. A restore reads it strictly
(unknown fields, unknown file names and bad checksums are errors) before it changes anything.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from controlplane.backup.files import sha256, write_private
from controlplane.errors import InvalidInput

MANIFEST = "manifest.json"
POSTGRES_DUMP = "postgres.dump"
VAULT_EXPORT = "vault-kv.json"
SIMULATOR_STATE = "pvesim.tar"
FileName = Literal["postgres.dump", "vault-kv.json", "pvesim.tar"]
FILES: tuple[str, ...] = (MANIFEST, POSTGRES_DUMP, VAULT_EXPORT, SIMULATOR_STATE)
"""Every name a backup directory may hold: what ``--force`` replaces, and all that a restore reads."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileEntry(_Strict):
    """One file of the backup."""

    what: str
    bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class PostgresPart(_Strict):
    """The database dump: the server it came from, the tool that made it, and the rows of each table."""

    source: Literal["embedded", "external"]
    server_version: str
    pg_dump_version: str
    tables: dict[str, int]


class VaultPart(_Strict):
    """The export of the control plane's secrets (KV v2, latest version of each)."""

    source: Literal["embedded", "external"]
    mount: str
    prefix: str
    secrets: int = Field(ge=0)


class Manifest(_Strict):
    """The whole manifest."""

    format: Literal[1] = 1
    product: Literal["controlplane"] = "controlplane"
    controlplane_version: str
    created_at: datetime
    migration_revision: str
    code_head: str
    postgresql: PostgresPart
    vault: VaultPart
    demo_cluster: bool
    files: dict[FileName, FileEntry]

    def describe(self) -> str:
        """One line for the operator: when, which revision, how much."""
        rows = sum(self.postgresql.tables.values())
        size = sum(entry.bytes for entry in self.files.values())
        return (f"made {self.created_at:%Y-%m-%d %H:%M:%S} UTC by controlplane {self.controlplane_version}, "
                f"schema revision {self.migration_revision}: {len(self.postgresql.tables)} tables ({rows} rows), "
                f"{self.vault.secrets} secrets" + (", the demo cluster's simulator" if self.demo_cluster else "")
                + f"; {size / 1048576:.1f} MiB")


def entry(path: Path, what: str) -> FileEntry:
    """The manifest entry of the finished file ``path``."""
    return FileEntry(what=what, bytes=path.stat().st_size, sha256=sha256(path))


def write(directory: Path, manifest: Manifest) -> None:
    """Write the manifest (0600, atomically): the backup is complete from then on."""
    write_private(directory / MANIFEST, (manifest.model_dump_json(indent=2) + "\n").encode())


def load(directory: Path) -> Manifest:
    """The manifest of the backup in ``directory``, every file present with its size and checksum;
    InvalidInput naming the problem otherwise."""
    path = directory / MANIFEST
    if not path.is_file():
        raise InvalidInput(f"{directory} holds no {MANIFEST}: not a backup, or an unfinished one", field="DIR")
    try:
        manifest = Manifest.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(map(str, err["loc"])) or "(top level)"
        raise InvalidInput(f"{path}: {where}: {err['msg']}", field="DIR") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{path} cannot be read: {exc}", field="DIR") from exc
    for required in (POSTGRES_DUMP, VAULT_EXPORT):
        if required not in manifest.files:
            raise InvalidInput(f"{path}: files: {required} is missing", field="DIR")
    for name, expected in manifest.files.items():
        file = directory / name
        if not file.is_file():
            raise InvalidInput(f"{file} is missing", field="DIR")
        if file.stat().st_size != expected.bytes or sha256(file) != expected.sha256:
            raise InvalidInput(f"{file} does not match its checksum in {MANIFEST} (damaged or altered)",
                               field="DIR")
    return manifest
