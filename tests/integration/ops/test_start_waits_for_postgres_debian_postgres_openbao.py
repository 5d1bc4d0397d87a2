"""A ``controlplane worker`` started while its external PostgreSQL is down (a compose stack restarting it, a
pod starting before the database) says so and waits, then starts once the server is back; a refused login
is not waited for: a clear error at once, no traceback. Debian's PostgreSQL server (stopped and started
again on the same port) and OpenBao."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.fixtures.debian_postgres import debian_postgres
from tests.fixtures.processes import stop_process

COMMAND = [sys.executable, "-m", "controlplane.cli", "worker", "--concurrency", "1", "--poll-interval", "1"]


def _env(url: str, vault_server, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTROLPLANE_")}
    return {**env, "CONTROLPLANE_DATABASE_URL": url, "CONTROLPLANE_VAULT_ADDR": vault_server.addr,
            "CONTROLPLANE_VAULT_TOKEN": vault_server.token, "CONTROLPLANE_DATA_DIR": str(tmp_path / "data")}


def test_a_worker_waits_for_postgres_and_a_refused_login_fails_at_once(vault_server, tmp_path: Path) -> None:
    with debian_postgres() as (pg, db):
        pg.stop_fast()
        worker = subprocess.Popen(COMMAND, env=_env(db.owner, vault_server, tmp_path), cwd=tmp_path,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        lines: list[str] = []
        waiting, started = threading.Event(), threading.Event()

        def read() -> None:
            assert worker.stdout is not None
            for line in worker.stdout:
                lines.append(line)
                if "does not answer yet" in line:
                    waiting.set()
                if "concurrent runs" in line:
                    started.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            assert waiting.wait(60), "".join(lines)
            assert worker.poll() is None, "".join(lines)
            pg.start_again()
            assert started.wait(120), "".join(lines)
            assert "Traceback" not in "".join(lines)
        finally:
            stop_process(worker, grace=30)
            reader.join(timeout=10)

        pg.require_password("controlplane_owner", "right-password")
        wrong = db.owner.replace("controlplane_owner@", "controlplane_owner:wrong-password@")
        assert wrong != db.owner
        begun = time.monotonic()
        refused = subprocess.run(COMMAND, env=_env(wrong, vault_server, tmp_path), cwd=tmp_path, capture_output=True,
                                 text=True, timeout=120)
        output = refused.stdout + refused.stderr
        assert refused.returncode == 1, output
        assert "cannot use the database" in output and "password authentication failed" in output, output
        assert "Traceback" not in output and "wrong-password" not in output, output
        assert time.monotonic() - begun < 50, "a refused login was waited for"  # the wait is 60 s
