"""The files of one Ansible run: a private data directory, an inventory whose values are never templated,
the SSH private key (mode 0600, removed with the directory), and the digest of a playbook's content.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml


class _Unsafe(str):
    """A string Ansible must use literally: written with the ``!unsafe`` tag."""


class _UnsafeDumper(yaml.SafeDumper):
    """A YAML dumper that tags every string ``!unsafe``."""


_UnsafeDumper.add_representer(_Unsafe, lambda dumper, data: dumper.represent_scalar("!unsafe", str(data)))


def _mark(value: Any) -> Any:
    if isinstance(value, str):
        return _Unsafe(value)
    if isinstance(value, Mapping):
        return {str(k): _mark(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_mark(v) for v in value]
    return value


def unsafe_yaml(data: Mapping[str, Any]) -> str:
    """YAML for ``data`` in which every string carries ``!unsafe``: a VM name or tag holding ``{{ ... }}``
    stays text, whatever Ansible version reads it."""
    return yaml.dump(_mark(data), Dumper=_UnsafeDumper, default_flow_style=False, sort_keys=True)


def write_private(path: Path, text: str) -> Path:
    """Create ``path`` with mode 0600 from the start (never briefly readable by others) and write ``text``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


@contextmanager
def private_data_dir(parent: Path | None = None) -> Iterator[tuple[Path, Path]]:
    """A fresh ansible-runner private data directory (mode 0700) and a short-named directory for SSH
    control sockets (their paths must stay under ~100 bytes); both removed afterwards even on failure."""
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="cp-ansible-", dir=parent))
    sockets = Path(tempfile.mkdtemp(prefix="cpssh-"))
    try:
        yield path, sockets
    finally:
        shutil.rmtree(path, ignore_errors=True)
        shutil.rmtree(sockets, ignore_errors=True)


def _content_files(playbook_dir: Path) -> Iterator[Path]:
    for path in sorted(playbook_dir.rglob("*")):
        rel = path.relative_to(playbook_dir)
        if path.is_file() and not any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            yield path


def has_playbook(playbook_dir: Path, playbook: str) -> bool:
    """Whether ``playbook`` is a file inside ``playbook_dir`` once resolved (``../x`` or a link out is not)."""
    directory = playbook_dir.resolve()
    path = (directory / playbook).resolve()
    return path.is_file() and directory in path.parents


def playbook_digest(playbook_dir: Path, playbook: str) -> str:
    """``sha256:...`` over the playbook and everything beside it (roles, vars, templates, files).

    Any change in the directory changes the digest, so a guest is configured again after an edit to a
    role it uses; unrelated edits in the same directory also cause a (harmless, idempotent) re-run.
    """
    playbook_dir = playbook_dir.resolve()
    if not has_playbook(playbook_dir, playbook):
        raise FileNotFoundError(f"no playbook {playbook!r} in {playbook_dir}")
    digest = hashlib.sha256(f"playbook:{playbook}\0".encode())
    for path in _content_files(playbook_dir):
        digest.update(str(path.relative_to(playbook_dir)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return "sha256:" + digest.hexdigest()


def configuration_digest(configure: Mapping[str, Any], playbook_dir: Path) -> str:
    """One digest of what a configuration run would do: ``spec.configure`` (playbook, roles, vars) and the
    playbook's content. Store it when a run succeeds; a different value means the guest must run again."""
    playbook = str(configure.get("playbook") or "site.yml")
    spec_part = json.dumps(configure, sort_keys=True, separators=(",", ":"), default=str)
    combined = hashlib.sha256(f"{spec_part}\0{playbook_digest(playbook_dir, playbook)}".encode())
    return "sha256:" + combined.hexdigest()
