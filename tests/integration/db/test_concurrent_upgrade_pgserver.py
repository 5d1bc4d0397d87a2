"""Migrations serialised by the advisory lock, on a real PostgreSQL (pgserver): two ``controlplane db upgrade``
processes at once both succeed and leave one head; an upgrade waits while another run holds the lock."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg

from controlplane.db import migrate
from controlplane.db.embedded import DatabaseUrls
from controlplane.util.net import wait_for

COMMAND = [sys.executable, "-m", "controlplane.cli", "db", "upgrade"]


def _upgrade_process(url: str, home: Path) -> subprocess.Popen[str]:
    env = {"CONTROLPLANE_DATABASE_URL": url, "PATH": "/usr/bin:/bin", "HOME": str(home)}
    return subprocess.Popen(COMMAND, env=env, cwd=home, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _versions(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]


def test_two_db_upgrade_processes_at_once_both_succeed_with_one_head(empty_database: DatabaseUrls,
                                                                     tmp_path: Path) -> None:
    processes = [_upgrade_process(empty_database.owner, tmp_path) for _ in range(2)]
    outputs = [process.communicate(timeout=180)[0] for process in processes]
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output
        assert "Error" not in output and "Traceback" not in output, output
    assert _versions(empty_database.owner) == [migrate.head_revision()]


def test_an_upgrade_waits_for_the_lock_another_run_holds(empty_database: DatabaseUrls, tmp_path: Path) -> None:
    url = empty_database.owner
    with migrate.migration_lock(url), psycopg.connect(url, autocommit=True) as watcher:
        process = _upgrade_process(url, tmp_path)

        def waiting_for_lock() -> bool:
            row = watcher.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = %s",
                (migrate.MIGRATION_LOCK & 0xFFFFFFFF,),
            ).fetchone()
            return bool(row and row[0]) or process.poll() is not None

        wait_for(waiting_for_lock, timeout=120, what="the upgrade waiting for the migration lock")
        assert process.poll() is None, process.communicate()[0]
        assert migrate.current_revision(url) is None  # nothing migrated while the lock is held
    output = process.communicate(timeout=180)[0]
    assert process.returncode == 0, output
    assert _versions(url) == [migrate.head_revision()]
