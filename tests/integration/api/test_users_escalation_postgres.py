"""Users: no privilege escalation — managers cannot make admins or reach other tenants, users cannot change
their own role; deactivation locks out passwords and API keys."""

from __future__ import annotations

from tests.fixtures.api import PASSWORD, World

NEW = "a completely different passphrase"


def test_manager_cannot_create_or_promote_admins(world: World) -> None:
    made = world.acme.manager.post("/api/v1/users", json={"email": "x@acme.test", "password": PASSWORD,
                                                          "role": "admin"})
    assert made.status_code == 403
    promote = world.acme.manager.patch(f"/api/v1/users/{world.acme.outsider_id}", json={"role": "admin"})
    assert promote.status_code == 403
    emails = {u["email"]: u["role"] for u in world.admin.get("/api/v1/users", params={"limit": 100}).json()["items"]}
    assert "x@acme.test" not in emails and emails["outsider@acme.test"] == "user", "a refused write changed state"
    manager = world.acme.manager.post("/api/v1/users", json={"email": "m2@acme.test", "password": PASSWORD,
                                                             "role": "manager"})
    assert manager.status_code == 201 and manager.json()["tenant_id"] == str(world.acme.id)


def test_user_can_change_own_password_but_not_role(world: World) -> None:
    me = f"/api/v1/users/{world.acme.member_id}"
    assert world.acme.member.patch(me, json={"role": "manager"}).status_code == 403
    assert world.admin.get(me).json()["role"] == "user"
    assert world.acme.member.patch(f"/api/v1/users/{world.acme.outsider_id}", json={"password": NEW}
                                   ).status_code == 404
    assert world.acme.member.patch(me, json={"password": NEW}).status_code == 200
    login = world.api.client().post("/api/v1/auth/login", json={"email": "member@acme.test", "password": NEW})
    assert login.status_code == 200


def test_deactivated_user_loses_password_and_key_access(world: World) -> None:
    key = world.acme.member.post("/api/v1/api-keys", json={"name": "k"}).json()["key"]
    off = world.acme.manager.patch(f"/api/v1/users/{world.acme.member_id}", json={"is_active": False})
    assert off.status_code == 200 and off.json()["is_active"] is False
    login = world.api.client().post("/api/v1/auth/login", json={"email": "member@acme.test", "password": PASSWORD})
    assert login.status_code == 401
    assert world.api.client(key).get("/api/v1/vms").status_code == 401


def test_manager_cannot_delete_themselves_or_manage_other_tenants_users(world: World) -> None:
    me = world.acme.manager.get("/api/v1/auth/me").json()["user_id"]
    assert world.acme.manager.delete(f"/api/v1/users/{me}").status_code == 403
    assert world.acme.manager.delete(f"/api/v1/users/{world.globex.member_id}").status_code == 404
    assert world.admin.get(f"/api/v1/users/{me}").status_code == 200
    assert world.admin.get(f"/api/v1/users/{world.globex.member_id}").json()["is_active"] is True
    listed = world.acme.manager.get("/api/v1/users", params={"limit": 100}).json()["items"]
    assert {u["tenant_id"] for u in listed} == {str(world.acme.id)}


def test_api_key_cannot_mint_api_keys(world: World) -> None:
    key = world.acme.member.post("/api/v1/api-keys", json={"name": "k"}).json()["key"]
    assert world.api.client(key).post("/api/v1/api-keys", json={"name": "child"}).status_code == 403
