"""Finding desired-state files: the YAML files under some paths, filtered by include/exclude globs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase
from pathlib import Path

DEFAULT_INCLUDE = ("*.yaml", "*.yml")


def _matches(relative: str, patterns: Sequence[str]) -> bool:
    name = relative.rsplit("/", 1)[-1]
    return any(fnmatchcase(relative, p) or fnmatchcase(name, p) for p in patterns)


def find(paths: Iterable[Path], include: Sequence[str] = DEFAULT_INCLUDE, exclude: Sequence[str] = ()) -> list[Path]:
    """Every file under ``paths`` (recursively) matching one ``include`` glob and no ``exclude`` glob.

    A glob matches either the path relative to the directory given or the file name (``*.yaml``,
    ``prod/**``); hidden directories (``.git``) are skipped. A file named explicitly is always taken.
    The result is sorted, so runs are reproducible.
    """
    found: set[Path] = set()
    for root in paths:
        if root.is_file():
            found.add(root)
            continue
        for path in root.rglob("*"):
            relative = path.relative_to(root).as_posix()
            if any(part.startswith(".") for part in relative.split("/")[:-1]) or not path.is_file():
                continue
            if _matches(relative, include) and not _matches(relative, exclude):
                found.add(path)
    return sorted(found)
