"""Error bodies never show the server's file system: a component failure whose message names a socket, a
key file or a run directory reaches the client with ``<path>`` instead; API paths stay readable."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from controlplane import errors
from controlplane.api.errors import install_error_handlers
from controlplane.util.paths_text import without_paths

SOCKET = "/srv/controlplane/.data/postgres/.s.PGSQL.5432"
INIT = "/srv/controlplane/.data/openbao/init.json"


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/db")
    def db() -> None:
        raise errors.TemporaryError(f'connection to server on socket "{SOCKET}" failed', component="postgresql")

    @app.get("/vault")
    def vault() -> None:
        raise errors.ComponentError(f"cannot read {INIT}: permission denied", component="vault")

    @app.get("/config")
    def config() -> None:
        raise errors.ConfigError(f"no key file at {INIT}")

    return app


def test_5xx_bodies_name_no_host_path() -> None:
    client = TestClient(_app())
    for url, status in (("/db", 503), ("/vault", 502), ("/config", 500)):
        resp = client.get(url)
        assert resp.status_code == status
        assert "/srv/" not in resp.text and ".data" not in resp.text and "<path>" in resp.json()["detail"]


def test_only_file_system_paths_are_replaced() -> None:
    assert without_paths(f"open '{INIT}' failed") == "open '<path>' failed"
    kept = "GET /api/v1/vms and /api2/json/nodes/pve1/qemu at https://127.0.0.1:8006/api2/json; 10.0.0.1/24"
    assert without_paths(kept) == kept
    assert without_paths("playbook roles/web/site.yml") == "playbook roles/web/site.yml"
    assert without_paths("Error: in /tmp/cp-run-x1/main.tf.json line 3") == "Error: in <path> line 3"
