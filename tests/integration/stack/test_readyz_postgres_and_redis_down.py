"""``/readyz`` answers 503 naming the component when PostgreSQL goes away, and when a configured Redis goes
away; while both are up it answers 200. A private PostgreSQL (pgserver) and redis-server, stopped mid-test;
the session's OpenBao."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from controlplane.api.app import create_app
from controlplane.api.deps import AppDeps
from controlplane.db import migrate
from controlplane.db.embedded import EmbeddedPostgres
from controlplane.db.engine import create_app_engine
from controlplane.drivers.vault import VaultStore
from tests.fixtures.api import api_settings
from tests.fixtures.processes import stop_process
from tests.fixtures.redis import start_redis


@pytest.fixture
def make_client(vault: VaultStore) -> Iterator[Callable[..., TestClient]]:
    """Build API clients over a given database; their engines are disposed at teardown."""
    engines: list[Engine] = []

    def build(app_url: str, owner_url: str, **settings: object) -> TestClient:
        engine = create_app_engine(app_url, owner_url)
        engines.append(engine)
        settings.setdefault("readyz_details", True)  # the errors, not only the statuses
        return TestClient(create_app(AppDeps(settings=api_settings(**settings), app_engine=engine, vault=vault)))

    yield build
    for engine in engines:
        engine.dispose()


def test_readyz_is_503_when_postgresql_goes_away(tmp_path: Path, make_client) -> None:
    server = EmbeddedPostgres(tmp_path / "pg")
    server.start()
    try:
        urls = server.ensure_database()
        migrate.upgrade(urls.owner)
        client = make_client(urls.app, urls.owner)
        assert client.get("/readyz").status_code == 200
    finally:
        server.stop()
    response = client.get("/readyz")
    assert response.status_code == 503, response.text
    components = response.json()["components"]
    assert components["postgresql"]["status"] == "down" and components["postgresql"]["error"]
    assert components["vault"]["status"] == "ok"


def test_readyz_is_503_when_a_configured_redis_goes_away(tmp_path: Path, database, make_client) -> None:
    process, url = start_redis(tmp_path)
    try:
        client = make_client(database.app, database.owner, redis_url=url)
        up = client.get("/readyz")
        assert up.status_code == 200 and up.json()["components"]["redis"]["status"] == "ok", up.text
    finally:
        stop_process(process, grace=15)
    response = client.get("/readyz")
    assert response.status_code == 503, response.text
    components = response.json()["components"]
    assert components["redis"]["status"] == "down" and components["redis"]["error"]
    assert components["postgresql"]["status"] == "ok"
