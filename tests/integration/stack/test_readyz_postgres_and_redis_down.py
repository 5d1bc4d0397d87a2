"""``/readyz`` answers 503 naming the component when PostgreSQL goes away, and when a configured Redis goes
away; while both are up it answers 200. A private PostgreSQL (pgserver) and redis-server, stopped mid-test;
the session's OpenBao."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from controlplane.api.app import create_app
from controlplane.api.deps import AppDeps
from controlplane.db import migrate
from controlplane.db.embedded import EmbeddedPostgres
from controlplane.db.engine import create_app_engine
from controlplane.drivers.vault import VaultStore
from tests.fixtures.api import api_settings
from tests.fixtures.processes import stop_process
from tests.fixtures.redis import start_redis


def _client(vault: VaultStore, app_url: str, owner_url: str, **settings: object) -> TestClient:
    engine = create_app_engine(app_url, owner_url)
    settings.setdefault("readyz_details", True)  # the errors, not only the statuses
    return TestClient(create_app(AppDeps(settings=api_settings(**settings), app_engine=engine, vault=vault)))


def test_readyz_is_503_when_postgresql_goes_away(tmp_path: Path, vault: VaultStore) -> None:
    server = EmbeddedPostgres(tmp_path / "pg")
    server.start()
    try:
        urls = server.ensure_database()
        migrate.upgrade(urls.owner)
        client = _client(vault, urls.app, urls.owner)
        assert client.get("/readyz").status_code == 200
    finally:
        server.stop()
    response = client.get("/readyz")
    assert response.status_code == 503, response.text
    components = response.json()["components"]
    assert components["postgresql"]["status"] == "down" and components["postgresql"]["error"]
    assert components["vault"]["status"] == "ok"


def test_readyz_is_503_when_a_configured_redis_goes_away(tmp_path: Path, database, vault: VaultStore) -> None:
    process, url = start_redis(tmp_path)
    try:
        client = _client(vault, database.app, database.owner, redis_url=url)
        up = client.get("/readyz")
        assert up.status_code == 200 and up.json()["components"]["redis"]["status"] == "ok", up.text
    finally:
        stop_process(process, grace=15)
    response = client.get("/readyz")
    assert response.status_code == 503, response.text
    components = response.json()["components"]
    assert components["redis"]["status"] == "down" and components["redis"]["error"]
    assert components["postgresql"]["status"] == "ok"
