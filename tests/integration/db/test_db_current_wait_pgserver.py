"""``controlplane db current --check`` and ``--wait`` (what the Helm chart's init container runs) on a real
PostgreSQL (pgserver): status 3 while the schema is behind, 0 at head, a waiting process finishes as soon as
a migration reaches head, and an unreachable database is a clear error after the wait, not a traceback."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from controlplane.db import migrate
from controlplane.db.embedded import DatabaseUrls
from controlplane.util.net import free_port

COMMAND = [sys.executable, "-m", "controlplane.cli", "db", "current"]


def _run(url: str, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"CONTROLPLANE_DATABASE_URL": url, "PATH": "/usr/bin:/bin", "HOME": str(home)}
    return subprocess.run([*COMMAND, *args], env=env, cwd=home, capture_output=True, text=True, timeout=120)


def test_check_fails_before_migration_and_passes_at_head(empty_database: DatabaseUrls, tmp_path: Path) -> None:
    behind = _run(empty_database.owner, tmp_path, "--check")
    assert behind.returncode == 3, behind.stderr
    assert "not at head" in behind.stderr and "Traceback" not in behind.stderr
    migrate.upgrade(empty_database.owner)
    at_head = _run(empty_database.owner, tmp_path, "--check")
    assert at_head.returncode == 0, at_head.stderr
    assert f"current: {migrate.head_revision()}" in at_head.stdout


def test_wait_returns_once_a_migration_reaches_head(empty_database: DatabaseUrls, tmp_path: Path) -> None:
    env = {"CONTROLPLANE_DATABASE_URL": empty_database.owner, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    waiting = subprocess.Popen([*COMMAND, "--wait", "120"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        for line in waiting.stderr:  # type: ignore[union-attr]
            seen.append(line)
            if "waiting for" in line:
                break
        assert waiting.poll() is None, "".join(seen)
        migrate.upgrade(empty_database.owner)
        upgraded = time.monotonic()
        out, err = waiting.communicate(timeout=60)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert waiting.returncode == 0, err
    assert f"current: {migrate.head_revision()}" in out
    assert time.monotonic() - upgraded < 30, "the waiter did not notice the migration promptly"


def test_wait_on_an_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    url = f"postgresql://nobody@127.0.0.1:{free_port()}/none"
    started = time.monotonic()
    result = _run(url, tmp_path, "--wait", "3")
    assert result.returncode == 1, result.stderr
    assert "database unreachable after 3s" in result.stderr and "Traceback" not in result.stderr
    assert time.monotonic() - started >= 3
