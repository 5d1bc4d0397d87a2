"""``controlplane up`` as a user runs it: embedded PostgreSQL and OpenBao, ready, restartable, stoppable."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import httpx
import psutil
import psycopg

from controlplane.drivers.vault import VaultStore
from controlplane.util.net import wait_for
from tests.e2e.upflow import controlplane_up, ready


def postgres_socket_dir(data_dir: Path) -> str:
    # postmaster.pid: line 5 is the directory of the Unix socket
    return (data_dir / "postgres" / "postmaster.pid").read_text().splitlines()[4]


def vault_of(data_dir: Path) -> VaultStore:
    port = re.search(r'api_addr\s*=\s*"http://127.0.0.1:(\d+)"', (data_dir / "openbao" / "config.hcl").read_text())
    token = json.loads((data_dir / "openbao" / "init.json").read_text())["root_token"]
    assert port is not None
    return VaultStore(f"http://127.0.0.1:{port.group(1)}", token)


def processes_using(data_dir: Path) -> list[str]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(data_dir) in cmdline:
            found.append(cmdline)
    return found


def test_up_with_the_demo_cluster_is_ready_keeps_data_across_restarts_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"

    with controlplane_up(data_dir) as up:
        body = wait_for(lambda: ready(up.port), timeout=120, what="/readyz to report ready")
        components = body["components"]
        # anonymous callers see each component's status, never its version or address
        assert components["postgresql"] == {"status": "ok", "required": True}
        assert components["vault"] == {"status": "ok", "required": True}
        assert components["pvesim"]["status"] == "ok" and set(components["pvesim"]) <= {"status", "required"}
        assert httpx.get(f"{up.url}/healthz").json() == {"status": "ok"}
        assert (data_dir / "openbao" / "init.json").stat().st_mode & 0o777 == 0o600

        socket_dir = postgres_socket_dir(data_dir)
        with psycopg.connect(f"postgresql://controlplane_owner@/controlplane?host={socket_dir}") as conn:
            conn.execute("INSERT INTO tenants (name) VALUES ('survivor')")
        vault_of(data_dir).write("controlplane/test/persist", {"value": "kept"})

        up.process.send_signal(signal.SIGINT)
        assert up.process.wait(timeout=60) == 0
    assert processes_using(data_dir) == []

    with controlplane_up(data_dir) as up:
        wait_for(lambda: ready(up.port), timeout=120, what="/readyz after a restart")
        socket_dir = postgres_socket_dir(data_dir)
        with psycopg.connect(f"postgresql://controlplane_owner@/controlplane?host={socket_dir}") as conn:
            assert conn.execute("SELECT name FROM tenants").fetchall() == [("survivor",)]
            # the simulator came back as the same demo cluster, its token only in Vault
            (endpoint, secret_path), = conn.execute("SELECT endpoint, secret_path FROM clusters").fetchall()
            nodes = conn.execute("SELECT count(*) FROM nodes").fetchone()
        assert endpoint.startswith("https://127.0.0.1:") and secret_path.startswith("controlplane/clusters/")
        assert nodes == (3,)
        assert set(vault_of(data_dir).read(secret_path)) == {"token_id", "token_secret"}
        assert vault_of(data_dir).read("controlplane/test/persist") == {"value": "kept"}
    assert processes_using(data_dir) == []
