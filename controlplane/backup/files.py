"""The backup directory on disk: created private (0700), files written private (0600) and atomically,
checksummed; a directory that holds anything is overwritten only when asked to."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from controlplane.errors import Conflict, InvalidInput

DIR_MODE = 0o700
FILE_MODE = 0o600
PARTIAL = ".partial"


def prepare_directory(directory: Path, *, force: bool, ours: Iterable[str]) -> Path:
    """Create ``directory`` private, or make an existing one private; one holding anything is refused
    unless ``force``, and then only the files named ``ours`` are removed from it (the manifest first, so an
    interrupted backup never looks complete)."""
    if directory.exists() and not directory.is_dir():
        raise InvalidInput(f"{directory} exists and is not a directory", field="DIR")
    if directory.is_dir() and any(directory.iterdir()):
        if not force:
            raise Conflict(f"{directory} is not empty: choose an empty or new directory, or give --force to "
                           "replace the backup in it", field="DIR")
        for name in ours:
            for path in (directory / name, directory / (name + PARTIAL)):
                path.unlink(missing_ok=True)
    directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(directory, DIR_MODE)
    return directory


@contextmanager
def private_file(path: Path) -> Iterator[int]:
    """An open file descriptor for ``path`` written as ``path.partial`` with mode 0600 and renamed into place
    when the block ends without error (removed otherwise)."""
    partial = path.with_name(path.name + PARTIAL)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        yield fd
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        partial.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(partial, path)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600, atomically."""
    with private_file(path) as fd:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]


def sha256(path: Path) -> str:
    """The SHA-256 of the file at ``path``, in hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
