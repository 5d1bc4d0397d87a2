"""Secrets (cluster token, API key, passwords) never appear in any response, log line or database column."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from controlplane.db.embedded import DatabaseUrls
from tests.fixtures.api import PASSWORD, World


def _record(world: World, bodies: list[str]) -> None:
    def keep(response: httpx.Response) -> None:
        response.read()
        bodies.append(response.text + str(dict(response.headers)))

    for client in world.api.clients:
        if not getattr(client, "_scanned", False):
            client.event_hooks["response"].append(keep)
            client._scanned = True  # type: ignore[attr-defined]


def _database_text(owner_url: str) -> str:
    chunks = []
    with psycopg.connect(owner_url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()]
        for table in tables:
            for (row,) in conn.execute(f"SELECT to_jsonb(t)::text FROM {table} t"):
                chunks.append(row)
    return "\n".join(chunks)


def test_no_secret_in_responses_logs_or_database(world: World, pvesim: Any, database: DatabaseUrls,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    bodies: list[str] = []
    _record(world, bodies)
    secret_password = "a brand new password for the scan"
    registered = world.admin.post("/api/v1/clusters", json={
        "name": "second", "endpoint": pvesim.url, "token_id": pvesim.token_id, "token_secret": pvesim.token_secret,
        "ca_cert_pem": Path(pvesim.ca_file).read_text()})
    assert registered.status_code == 201
    bad = world.admin.post("/api/v1/clusters", json={
        "name": "third", "endpoint": pvesim.url, "token_id": pvesim.token_id, "token_secret": "wrong-" + PASSWORD[:8],
        "ca_cert_pem": Path(pvesim.ca_file).read_text()})
    assert bad.status_code == 422
    user = world.admin.post("/api/v1/users", json={"email": "scan@acme.test", "password": secret_password,
                                                   "tenant": "acme"})
    assert user.status_code == 201
    short = world.admin.post("/api/v1/users", json={"email": "s2@acme.test", "password": "tooshort", "tenant": "acme"})
    assert short.status_code == 422
    key = world.acme.member.post("/api/v1/api-keys", json={"name": "scan"}).json()["key"]
    key_secret = key.split("_")[2]
    keyed = world.api.client(key)
    _record(world, bodies)
    for path in ("/api/v1/clusters", "/api/v1/users", "/api/v1/api-keys", "/api/v1/audit", "/api/v1/auth/me"):
        assert world.admin.get(path).status_code == 200
        assert keyed.get(path).status_code == 200
    world.api.client().post("/api/v1/auth/login", json={"email": "scan@acme.test", "password": secret_password})
    world.api.client().post("/api/v1/auth/login", json={"email": "scan@acme.test", "password": "tooshort"})

    secrets = {"cluster token": pvesim.token_secret, "user password": secret_password, "seed password": PASSWORD,
               "short password": "tooshort", "api key secret": key_secret}
    responses = "\n".join(bodies)
    logs = "\n".join(r.getMessage() + str(r.args) for r in caplog.records)
    stored = _database_text(database.owner)
    for what, secret in secrets.items():
        assert secret not in stored, f"{what} in the database"
        assert secret not in logs, f"{what} in the logs"
        if what != "api key secret":
            assert secret not in responses, f"{what} in a response"
    shown = [b for b in bodies if key_secret in b]
    assert len(shown) == 1, "the API key appears in exactly one response: its creation"
