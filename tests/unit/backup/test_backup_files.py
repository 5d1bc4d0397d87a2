"""The backup directory's own rules, with no server: private modes, refusing a non-empty directory, a
manifest read strictly (unknown file names, bad checksums), secrets paths kept inside our folder, and a
simulator archive that cannot write outside its directory."""

from __future__ import annotations

import io
import json
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from controlplane.backup import files, manifest
from controlplane.backup.restore import VaultExport, _put_simulator
from controlplane.errors import Conflict, InvalidInput


def a_backup(directory: Path) -> manifest.Manifest:
    files.prepare_directory(directory, force=False, ours=manifest.FILES)
    files.write_private(directory / manifest.POSTGRES_DUMP, b"dump")
    files.write_private(directory / manifest.VAULT_EXPORT, b"{}")
    made = manifest.Manifest(
        controlplane_version="0.1.0", created_at=datetime.now(UTC), migration_revision="0001_initial",
        code_head="0001_initial", demo_cluster=False,
        postgresql=manifest.PostgresPart(source="external", server_version="16.2", pg_dump_version="16.2",
                                         tables={"public.tenants": 1}),
        vault=manifest.VaultPart(source="external", mount="secret", prefix="controlplane/", secrets=0),
        files={name: manifest.entry(directory / name, name)  # type: ignore[misc]
               for name in (manifest.POSTGRES_DUMP, manifest.VAULT_EXPORT)})
    manifest.write(directory, made)
    return made


def test_a_backup_directory_is_private_and_a_full_one_is_replaced_only_with_force(tmp_path: Path) -> None:
    directory = tmp_path / "b"
    a_backup(directory)
    assert directory.stat().st_mode & 0o777 == 0o700
    assert {p.name: p.stat().st_mode & 0o777 for p in directory.iterdir()} == {
        "manifest.json": 0o600, "postgres.dump": 0o600, "vault-kv.json": 0o600}
    with pytest.raises(Conflict, match="not empty"):
        files.prepare_directory(directory, force=False, ours=manifest.FILES)
    (directory / "notes.txt").write_text("mine")
    files.prepare_directory(directory, force=True, ours=manifest.FILES)
    assert [p.name for p in directory.iterdir()] == ["notes.txt"]  # only the backup's own files go


def test_the_manifest_is_read_strictly(tmp_path: Path) -> None:
    directory = tmp_path / "b"
    a_backup(directory)
    assert manifest.load(directory).postgresql.tables == {"public.tenants": 1}

    (directory / manifest.POSTGRES_DUMP).write_bytes(b"dumq")
    with pytest.raises(InvalidInput, match="checksum"):
        manifest.load(directory)

    text = json.loads((directory / manifest.MANIFEST).read_text())
    text["files"]["../../etc/passwd"] = text["files"].pop("postgres.dump")
    (directory / manifest.MANIFEST).write_text(json.dumps(text))
    with pytest.raises(InvalidInput, match="files"):
        manifest.load(directory)


def test_secrets_outside_the_control_planes_folder_are_refused() -> None:
    ok = VaultExport.model_validate({"format": 1, "mount": "secret", "secrets": {"controlplane/a/b": {"k": "v"}}})
    assert list(ok.secrets) == ["controlplane/a/b"]
    for path in ("other/x", "controlplane/../sys/x", "controlplane//x"):
        with pytest.raises(ValueError, match="outside"):
            VaultExport.model_validate({"format": 1, "mount": "secret", "secrets": {path: {}}})


def test_a_simulator_archive_cannot_write_outside_its_directory(tmp_path: Path) -> None:
    archive = tmp_path / "pvesim.tar"
    with tarfile.open(archive, "w:gz") as tar:
        data = b"{}"
        member = tarfile.TarInfo("../escaped.json")
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
    with pytest.raises(InvalidInput, match="unexpected entry"):
        _put_simulator(archive, tmp_path / "target")
    assert not (tmp_path / "escaped.json").exists()
