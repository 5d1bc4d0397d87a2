"""The suite is isolated from the developer's machine: a hostile ``.env`` in the repository's root reaches
neither the settings a test builds nor a process a test starts (they run from the session's empty working
directory), while the same file is read by a process started in the repository, as a user's would be."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from controlplane.config import get_settings
from tests.fixtures.api import api_settings

REPO = Path(__file__).resolve().parents[2]
HOSTILE = (
    "CONTROLPLANE_HTTP_HOST=203.0.113.7\n"
    "CONTROLPLANE_DATABASE_URL=postgresql://hostile@203.0.113.7/stolen\n"
    "CONTROLPLANE_LOG_LEVEL=debug\n"
)
PRINT_SETTINGS = (
    "from controlplane.config import get_settings; s = get_settings(); print(s.http_host, s.database_url is None)"
)


@pytest.fixture
def hostile_env_file() -> Iterator[Path]:
    """A hostile ``.env`` in the repository's root for the test's duration (a developer's own is put back)."""
    path = REPO / ".env"
    kept = path.read_bytes() if path.exists() else None
    path.write_text(HOSTILE)
    try:
        yield path
    finally:
        if kept is None:
            path.unlink()
        else:
            path.write_bytes(kept)


def test_a_hostile_env_file_in_the_repository_is_ignored(hostile_env_file: Path) -> None:
    assert not Path.cwd().resolve().is_relative_to(REPO), "the session must not run from the repository"
    assert not [name for name in os.environ if name.startswith("CONTROLPLANE_")]
    for settings in (get_settings(), api_settings()):
        assert (settings.http_host, settings.database_url, settings.log_level) == ("127.0.0.1", None, "info")

    started = subprocess.run([sys.executable, "-c", PRINT_SETTINGS], capture_output=True, text=True, timeout=60)
    assert started.returncode == 0, started.stderr
    assert started.stdout.split() == ["127.0.0.1", "True"]

    # The file is a working one: a process started in the repository does read it.
    in_repo = subprocess.run([sys.executable, "-c", PRINT_SETTINGS], cwd=REPO, capture_output=True, text=True,
                             timeout=60)
    assert in_repo.stdout.split() == ["203.0.113.7", "False"], in_repo.stderr
