"""Token lifetimes and the signing key, through the API on a real PostgreSQL and OpenBao: the JWT signing key
kept in Vault survives a restart (a token issued before it still works after it, and is signed with the key
Vault holds); ``CONTROLPLANE_ACCESS_TOKEN_TTL`` and ``CONTROLPLANE_REFRESH_TOKEN_TTL`` set the lifetimes of
the tokens issued; an API key that expires after it was issued stops working."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import psycopg

from controlplane.api.signing import JWT_SECRET_PATH
from controlplane.db.embedded import DatabaseUrls
from controlplane.drivers.vault import VaultStore
from controlplane.util.net import wait_for
from tests.fixtures.api import PASSWORD, build_api, seed_user

KEY_LIFETIME = timedelta(seconds=6)


def test_tokens_survive_a_restart_and_follow_the_ttl_settings(database: DatabaseUrls, vault: VaultStore) -> None:
    first = build_api(database, vault, access_token_ttl=120, refresh_token_ttl=3600)
    seed_user(first.engine, "ops@example.test", "admin")
    login = first.client().post("/api/v1/auth/login", json={"email": "ops@example.test", "password": PASSWORD})
    assert login.status_code == 200, login.text
    tokens = login.json()
    first.engine.dispose()

    restarted = build_api(database, vault)  # a new app (default lifetimes): it reads the signing key from Vault
    try:
        me = restarted.client(tokens["access_token"]).get("/api/v1/auth/me")
        assert me.status_code == 200, me.text
        refreshed = restarted.client().post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 200, refreshed.text
    finally:
        restarted.engine.dispose()

    key = bytes.fromhex(vault.read(JWT_SECRET_PATH)["key"])
    claims = jwt.decode(tokens["access_token"], key, algorithms=["HS256"], options={"verify_aud": False})
    assert claims["exp"] - claims["iat"] == 120 and tokens["expires_in"] == 120
    with psycopg.connect(database.superuser) as conn:  # first the token of the login, then the rotated one
        lifetimes = [row[0] for row in conn.execute(
            "SELECT extract(epoch FROM expires_at - created_at)::int FROM refresh_tokens ORDER BY created_at")]
    assert lifetimes == [3600, 14 * 86400], lifetimes


def test_an_api_key_that_expires_after_it_was_issued_stops_working(database: DatabaseUrls,
                                                                   vault: VaultStore) -> None:
    api = build_api(database, vault)
    try:
        seed_user(api.engine, "dev@example.test", "admin")
        owner = api.login("dev@example.test")
        expires = datetime.now(UTC) + KEY_LIFETIME
        created = owner.post("/api/v1/api-keys", json={"name": "short", "expires_at": expires.isoformat()})
        assert created.status_code == 201, created.text
        by_key = api.client(created.json()["key"])
        assert by_key.get("/api/v1/auth/me").status_code == 200
        wait_for(lambda: by_key.get("/api/v1/auth/me").status_code == 401, timeout=120, interval=0.5,
                 what="the API key to stop working once expired")
        assert datetime.now(UTC) >= expires
    finally:
        api.engine.dispose()
