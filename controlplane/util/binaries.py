"""Finding the executables we run: the venv's own scripts first, then PATH, then the project's .tools/."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TOOLS_DIR = PROJECT_ROOT / ".tools"


def find_binary(name: str, *, extra_dirs: tuple[Path, ...] = ()) -> str | None:
    """The path of executable ``name``: beside the running Python, on PATH, or in ``extra_dirs``."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found:
        return found
    for directory in extra_dirs:
        candidate = directory / name
        if candidate.is_file():
            return str(candidate)
    return None
