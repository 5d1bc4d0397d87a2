"""The commit and remote URL of the git checkout the files are in (for the ownership record), if any.

``git`` runs with a fixed argument list; a directory that is no checkout gives ``None``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def _git(directory: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(directory), *args], capture_output=True, text=True, timeout=30,
                             check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def checkout_root(path: Path) -> Path | None:
    """The top directory of the checkout holding ``path`` (``None`` outside a checkout)."""
    directory = path if path.is_dir() else path.parent
    top = _git(directory, "rev-parse", "--show-toplevel")
    return Path(top).resolve() if top else None


def inside(root: Path | None, file: str) -> str:
    """``file`` as a path inside the checkout ``root`` (unchanged without one or outside it)."""
    if root is None:
        return file
    try:
        return Path(file).resolve().relative_to(root).as_posix()
    except ValueError:
        return file


def describe(path: Path) -> tuple[str | None, str | None]:
    """(remote URL of ``origin`` without credentials, HEAD commit) of the checkout holding ``path``."""
    directory = path if path.is_dir() else path.parent
    commit = _git(directory, "rev-parse", "HEAD")
    remote = _git(directory, "remote", "get-url", "origin")
    if remote and "@" in remote.split("://", 1)[-1].split("/", 1)[0]:
        scheme, _, rest = remote.partition("://")
        remote = f"{scheme}://{rest.split('@', 1)[1]}" if rest else remote
    return remote, commit
