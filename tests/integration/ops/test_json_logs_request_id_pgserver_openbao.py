"""Structured logs, driven as an operator does: ``controlplane api`` with ``CONTROLPLANE_LOG_FORMAT=json`` on a
real PostgreSQL (pgserver) and OpenBao writes only JSON lines, and a request's lines carry the
``X-Request-ID`` the client sent (which the response echoes); without the setting the output is text."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx

from controlplane.db.embedded import DatabaseUrls
from tests.fixtures.processes import start_listening, stop_process
from tests.fixtures.vault import VaultServer


def _run_api(tmp_path: Path, database: DatabaseUrls, vault: VaultServer, **env: str) -> tuple[subprocess.Popen, int]:
    base = {"CONTROLPLANE_DATABASE_URL": database.owner, "CONTROLPLANE_VAULT_ADDR": vault.addr,
            "CONTROLPLANE_VAULT_TOKEN": vault.token, "CONTROLPLANE_DATA_DIR": str(tmp_path / "data"),
            "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **env}
    return start_listening(
        lambda port: [sys.executable, "-m", "controlplane.cli", "api", "--port", str(port)],
        lambda port: httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200,
        what="controlplane api", log_dir=tmp_path, timeout=120, env={**base},
    )


def _log_text(tmp_path: Path, port: int) -> str:
    return (tmp_path / f"controlplane-api-{port}.log").read_text()


def test_json_logs_carry_the_request_id_the_client_sent(tmp_path: Path, database: DatabaseUrls,
                                                        vault_server: VaultServer) -> None:
    process, port = _run_api(tmp_path, database, vault_server, CONTROLPLANE_LOG_FORMAT="json")
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/api/v1/vms", headers={"X-Request-ID": "trace-4711"}, timeout=10)
        assert response.status_code == 401
        assert response.headers["X-Request-ID"] == "trace-4711"
        minted = httpx.get(f"http://127.0.0.1:{port}/healthz", headers={"X-Request-ID": "bad id with spaces"})
        assert minted.headers["X-Request-ID"] != "bad id with spaces" and len(minted.headers["X-Request-ID"]) == 32
    finally:
        assert stop_process(process) in (0, -15)
    lines = [line for line in _log_text(tmp_path, port).splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records), records
    traced = [r for r in records if r.get("request_id") == "trace-4711"]
    assert any(r["logger"] == "controlplane.http" and r["message"].startswith("GET /api/v1/vms 401")
               for r in traced), records
    assert any("listening on" in r["message"] for r in records)  # the operator's messages are JSON too


def test_text_logs_by_default(tmp_path: Path, database: DatabaseUrls, vault_server: VaultServer) -> None:
    process, port = _run_api(tmp_path, database, vault_server)
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/healthz", headers={"X-Request-ID": "trace-text"}, timeout=10)
        assert response.headers["X-Request-ID"] == "trace-text"
    finally:
        stop_process(process)
    text = _log_text(tmp_path, port)
    assert "listening on" in text
    assert re.search(r"ready in \d+\.\d s", text), text  # the start-up time, once the API listens
    assert not any(line.lstrip().startswith("{") for line in text.splitlines())
