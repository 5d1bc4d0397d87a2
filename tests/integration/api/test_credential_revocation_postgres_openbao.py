"""Access tokens lose their powers the moment their user does: deactivation, demotion, deletion, password
change, logout and refresh-token reuse all take effect on the next request, against real PostgreSQL and
OpenBao. Each test performs the attack with a token issued before the change."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from controlplane.api.app import create_app
from controlplane.api.deps import AppDeps
from controlplane.db.engine import create_engine
from controlplane.drivers.vault import VaultStore
from controlplane.util.net import free_port
from tests.fixtures.api import PASSWORD, Api, api_settings, seed_user


def _login(api: Api, email: str, password: str = PASSWORD) -> dict[str, Any]:
    resp = api.client().post("/api/v1/auth/login", json={"email": email, "password": password})
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


def _tenant_with_manager(api: Api) -> tuple[TestClient, str, TestClient]:
    """An admin, the id of manager@acme.test and a client logged in as that manager."""
    seed_user(api.engine, "admin@example.test", "admin")
    admin = api.login("admin@example.test")
    assert admin.post("/api/v1/tenants", json={"name": "acme"}).status_code == 201
    made = admin.post("/api/v1/users", json={"email": "manager@acme.test", "password": PASSWORD,
                                             "role": "manager", "tenant": "acme"})
    assert made.status_code == 201, made.text
    return admin, made.json()["id"], api.login("manager@acme.test")


def _backdoor(manager: TestClient, email: str = "backdoor@acme.test") -> int:
    """The attack: a manager's token creates a new manager account."""
    return manager.post("/api/v1/users", json={"email": email, "password": PASSWORD, "role": "manager",
                                               "tenant": "acme"}).status_code


def _exists(admin: TestClient, email: str) -> bool:
    return bool(admin.get("/api/v1/users", params={"email": email}).json()["items"])


def test_deactivated_managers_token_cannot_create_a_backdoor(api: Api) -> None:
    admin, manager_id, manager = _tenant_with_manager(api)
    assert manager.get("/api/v1/auth/me").status_code == 200
    off = admin.patch(f"/api/v1/users/{manager_id}", json={"is_active": False})
    assert off.status_code == 200, off.text
    assert _backdoor(manager) == 401
    assert manager.get("/api/v1/users").status_code == 401
    assert not _exists(admin, "backdoor@acme.test")
    # reactivation does not bring the old token back
    assert admin.patch(f"/api/v1/users/{manager_id}", json={"is_active": True}).status_code == 200
    assert manager.get("/api/v1/auth/me").status_code == 401


def test_demoted_managers_token_loses_the_manager_powers(api: Api) -> None:
    admin, manager_id, manager = _tenant_with_manager(api)
    key = manager.post("/api/v1/api-keys", json={"name": "ops"}).json()["key"]
    assert admin.patch(f"/api/v1/users/{manager_id}", json={"role": "user"}).status_code == 200
    assert _backdoor(manager) == 401
    # an API key acts with its owner's current role
    assert _backdoor(api.client(key), "viakey@acme.test") == 403
    assert not _exists(admin, "backdoor@acme.test") and not _exists(admin, "viakey@acme.test")
    again = api.login("manager@acme.test")
    assert again.get("/api/v1/auth/me").json()["role"] == "user"
    assert _backdoor(again) == 403


def test_deleted_managers_token_is_refused(api: Api) -> None:
    admin, manager_id, manager = _tenant_with_manager(api)
    assert admin.delete(f"/api/v1/users/{manager_id}").status_code == 204
    assert _backdoor(manager) == 401
    assert not _exists(admin, "backdoor@acme.test")


def test_password_change_ends_every_session(api: Api) -> None:
    seed_user(api.engine, "u@example.test", "admin")
    stolen = _login(api, "u@example.test")
    mine = api.login("u@example.test")
    me = mine.get("/api/v1/auth/me").json()["user_id"]
    assert mine.patch(f"/api/v1/users/{me}", json={"password": "a brand new passphrase"}).status_code == 200
    assert api.client(stolen["access_token"]).get("/api/v1/auth/me").status_code == 401
    assert api.client().post("/api/v1/auth/refresh",
                             json={"refresh_token": stolen["refresh_token"]}).status_code == 401
    assert api.login("u@example.test", "a brand new passphrase").get("/api/v1/auth/me").status_code == 200


def test_logout_ends_that_logins_access_token_and_no_other(api: Api) -> None:
    seed_user(api.engine, "u@example.test", "admin")
    laptop, phone = _login(api, "u@example.test"), _login(api, "u@example.test")
    laptop_client = api.client(laptop["access_token"])
    assert laptop_client.post("/api/v1/auth/logout", json={"refresh_token": laptop["refresh_token"]}).status_code == 204
    assert laptop_client.get("/api/v1/auth/me").status_code == 401
    phone_client = api.client(phone["access_token"])
    assert phone_client.get("/api/v1/auth/me").status_code == 200
    # logout without a refresh token ends every login
    assert phone_client.post("/api/v1/auth/logout", json={}).status_code == 204
    assert phone_client.get("/api/v1/auth/me").status_code == 401
    assert api.client().post("/api/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]}).status_code == 401


def test_refresh_token_reuse_kills_the_access_tokens_of_that_login(api: Api) -> None:
    seed_user(api.engine, "u@example.test", "admin")
    first = _login(api, "u@example.test")
    rotated = api.client().post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
    fresh = api.client(rotated["access_token"])
    assert fresh.get("/api/v1/auth/me").status_code == 200
    # a thief replays the old refresh token: the whole login dies, the access tokens it issued included
    assert api.client().post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).status_code == 401
    assert fresh.get("/api/v1/auth/me").status_code == 401
    assert api.client(first["access_token"]).get("/api/v1/auth/me").status_code == 401


def test_token_and_key_responses_are_not_cached(api: Api) -> None:
    seed_user(api.engine, "u@example.test", "admin")
    client = api.client()
    login = client.post("/api/v1/auth/login", json={"email": "u@example.test", "password": PASSWORD})
    assert login.headers["cache-control"] == "no-store"
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": login.json()["refresh_token"]})
    assert refreshed.status_code == 200 and refreshed.headers["cache-control"] == "no-store"
    key = api.client(refreshed.json()["access_token"]).post("/api/v1/api-keys", json={"name": "ci"})
    assert key.status_code == 201 and key.headers["cache-control"] == "no-store"


def test_a_database_outage_during_the_check_is_503_not_500(vault: VaultStore) -> None:
    engine = create_engine(f"postgresql://nobody@127.0.0.1:{free_port()}/none", pool_size=1)
    app = create_app(AppDeps(settings=api_settings(), app_engine=engine, vault=vault))
    token = app.state.runtime.issuer.issue(uuid.uuid4(), None, "admin", "a@example.test")
    with TestClient(app, raise_server_exceptions=False) as client:
        for credential in (token, "cp_abcdef_0123456789"):
            resp = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {credential}"})
            assert resp.status_code == 503, resp.text
    engine.dispose()
