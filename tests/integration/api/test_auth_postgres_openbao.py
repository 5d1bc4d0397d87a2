"""Login, tokens, refresh rotation and reuse detection, logout, API keys — against real PostgreSQL and OpenBao."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.fixtures.api import PASSWORD, Api, World, seed_user


def test_login_returns_the_documented_token_pair(api: Api) -> None:
    seed_user(api.engine, "admin@example.test", "admin")
    resp = api.client().post("/api/v1/auth/login", json={"email": "Admin@Example.test", "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["token_type"] == "bearer" and body["access_token"] and body["refresh_token"]
    me = api.client(body["access_token"]).get("/api/v1/auth/me")
    assert me.status_code == 200 and me.json()["role"] == "admin" and me.json()["email"] == "admin@example.test"


def test_wrong_password_and_unknown_email_look_the_same(api: Api) -> None:
    seed_user(api.engine, "admin@example.test", "admin")
    wrong = api.client().post("/api/v1/auth/login", json={"email": "admin@example.test", "password": "nope" * 4})
    unknown = api.client().post("/api/v1/auth/login", json={"email": "ghost@example.test", "password": "nope" * 4})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_no_token_or_a_forged_token_is_401(api: Api) -> None:
    assert api.client().get("/api/v1/projects").status_code == 401
    assert api.client("eyJhbGciOiJIUzI1NiJ9.e30.x").get("/api/v1/projects").status_code == 401
    assert api.client("cp_abc_def").get("/api/v1/projects").status_code == 401


def test_refresh_rotates_and_reuse_revokes_the_family(api: Api) -> None:
    seed_user(api.engine, "admin@example.test", "admin")
    first = api.client().post("/api/v1/auth/login", json={"email": "admin@example.test", "password": PASSWORD}).json()
    second = api.client().post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200, second.text
    rotated = second.json()["refresh_token"]
    assert rotated != first["refresh_token"]
    reuse = api.client().post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401
    # the reuse revoked the whole family: the newest token is dead too
    assert api.client().post("/api/v1/auth/refresh", json={"refresh_token": rotated}).status_code == 401


def test_logout_revokes_the_refresh_token(api: Api) -> None:
    seed_user(api.engine, "admin@example.test", "admin")
    tokens = api.client().post("/api/v1/auth/login", json={"email": "admin@example.test", "password": PASSWORD}).json()
    client = api.client(tokens["access_token"])
    assert client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}).status_code == 204
    assert api.client().post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401


def test_api_key_works_like_a_jwt_is_shown_once_and_revocable(world: World) -> None:
    created = world.acme.member.post("/api/v1/api-keys", json={"name": "ci", "scopes": ["read", "write"]})
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith("cp_")
    listed = world.acme.member.get("/api/v1/api-keys").json()["items"]
    assert [k["id"] for k in listed] == [created.json()["id"]] and "key" not in listed[0]
    by_key = world.api.client(key)
    assert by_key.get("/api/v1/auth/me").json()["api_key_id"] == created.json()["id"]
    assert by_key.post("/api/v1/vms", json=world.vm_doc("via-key")).status_code == 201
    used = world.acme.member.get("/api/v1/api-keys").json()["items"][0]
    assert used["last_used_at"] is not None
    assert world.acme.member.delete(f"/api/v1/api-keys/{created.json()['id']}").status_code == 200
    assert by_key.get("/api/v1/auth/me").status_code == 401


def test_read_only_key_cannot_write_and_expired_key_is_refused(world: World) -> None:
    ro = world.acme.member.post("/api/v1/api-keys", json={"name": "ro", "scopes": ["read"]}).json()["key"]
    client = world.api.client(ro)
    assert client.get("/api/v1/vms").status_code == 200
    assert client.post("/api/v1/vms", json=world.vm_doc("nope")).status_code == 403
    assert world.acme.member.get("/api/v1/vms").json()["items"] == [], "a refused create left a guest"
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert world.acme.member.post("/api/v1/api-keys", json={"name": "x", "expires_at": past}).status_code == 422


def test_no_public_sign_up(api: Api) -> None:
    resp = api.client().post("/api/v1/users", json={"email": "me@x.test", "password": PASSWORD, "role": "admin"})
    assert resp.status_code == 401
