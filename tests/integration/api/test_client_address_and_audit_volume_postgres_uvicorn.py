"""Who the client is, and how much of it the audit log keeps: X-Forwarded-For counts only from configured
proxies (through a real uvicorn, as ``controlplane up`` serves), API-key use is recorded on the key and
audited once, failed logins with made-up names cannot flood the log, and creating a user never tells a
manager that another tenant holds the address."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.testclient import TestClient

from controlplane.db.embedded import DatabaseUrls
from controlplane.drivers.vault import VaultStore
from tests.fixtures.api import PASSWORD, Api, build_api, seed_user, serve


def _events(admin: TestClient, **params: object) -> list[dict[str, Any]]:
    resp = admin.get("/api/v1/audit", params={"limit": 500, **params})
    assert resp.status_code == 200, resp.text
    return list(resp.json()["items"])


def _failed_logins(api: Api, url: str, forwarded: list[str]) -> list[int]:
    codes = []
    with httpx.Client(base_url=url, timeout=10) as client:
        for n, header in enumerate(forwarded):
            resp = client.post("/api/v1/auth/login", json={"email": f"guess{n}@example.test", "password": "x" * 12},
                               headers={"X-Forwarded-For": header})
            codes.append(resp.status_code)
    return codes


def test_forwarded_for_from_an_untrusted_peer_is_ignored(database: DatabaseUrls, vault: VaultStore) -> None:
    api = build_api(database, vault, login_limit_ip=3, login_limit_account=100, login_backoff_base=30)
    live = serve(api.app)
    try:
        # a new forged address on every attempt neither escapes the per-client limit nor reaches the log
        codes = _failed_logins(api, live.url, [f"127.0.0.{n}" for n in range(10, 15)])
        assert codes == [401] * 4 + [429]
        seed_user(api.engine, "admin@example.test", "admin")
        ips = {e["ip"] for e in _events(api.login("admin@example.test"), action="auth.login", result="failure")}
        assert ips == {"127.0.0.1"}
    finally:
        live.server.should_exit = True
        live.thread.join(timeout=10)
        api.engine.dispose()


def test_forwarded_for_from_a_trusted_proxy_names_the_client(database: DatabaseUrls, vault: VaultStore) -> None:
    api = build_api(database, vault, login_limit_ip=3, login_limit_account=100, login_backoff_base=30,
                    trusted_proxies="127.0.0.1/32")
    live = serve(api.app)
    try:
        # each forwarded client has its own budget; a client-written entry left of the real one is ignored
        codes = _failed_logins(api, live.url, ["127.0.0.50"] * 4 + ["127.0.0.51", "6.6.6.6, 127.0.0.52"])
        assert codes == [401] * 4 + [401, 401]
        assert _failed_logins(api, live.url, ["127.0.0.50"]) == [429]
        seed_user(api.engine, "admin@example.test", "admin")
        ips = {e["ip"] for e in _events(api.login("admin@example.test"), action="auth.login", result="failure")}
        assert ips == {"127.0.0.50", "127.0.0.51", "127.0.0.52"}
    finally:
        live.server.should_exit = True
        live.thread.join(timeout=10)
        api.engine.dispose()


def test_failed_logins_with_made_up_names_are_capped_in_the_audit_log(database: DatabaseUrls,
                                                                      vault: VaultStore) -> None:
    api = build_api(database, vault, login_audit_limit=5)
    attacker = TestClient(api.app, client=("127.0.0.2", 40000))
    for n in range(25):
        attacker.post("/api/v1/auth/login", json={"email": f"made-up-{n}@example.test", "password": "x" * 12})
    seed_user(api.engine, "admin@example.test", "admin")
    other = TestClient(api.app, client=("127.0.0.3", 40000))
    other.post("/api/v1/auth/login", json={"email": "admin@example.test", "password": "wrong password!"})
    failures = _events(api.login("admin@example.test"), action="auth.login")
    from_attacker = [e for e in failures if e["ip"] == "127.0.0.2"]
    assert len(from_attacker) == 6  # five events and one saying the rest is not logged
    assert sum("not logged" in str(e["details"]) for e in from_attacker) == 1
    assert any(e["ip"] == "127.0.0.3" and e["target_name"] == "admin@example.test" for e in failures)
    attacker.close()
    other.close()
    api.engine.dispose()


def test_api_key_use_is_recorded_on_the_key_and_audited_once(api: Api) -> None:
    seed_user(api.engine, "admin@example.test", "admin")
    admin = api.login("admin@example.test")
    created = admin.post("/api/v1/api-keys", json={"name": "ci"}).json()
    robot = api.client(created["key"])
    for _ in range(20):
        assert robot.get("/api/v1/tenants").status_code == 200
    assert robot.post("/api/v1/tenants", json={"name": "acme"}).status_code == 201
    uses = _events(admin, action="api_key.use")
    assert len(uses) == 1 and uses[0]["details"]["first_use"] is True
    change = _events(admin, action="tenant.create")
    assert len(change) == 1 and created["id"] in change[0]["actor"]
    key = next(k for k in admin.get("/api/v1/api-keys").json()["items"] if k["id"] == created["id"])
    assert key["last_used_at"] is not None


def test_creating_a_user_does_not_reveal_another_tenants_account(api: Api) -> None:
    seed_user(api.engine, "admin@example.test", "admin")
    admin = api.login("admin@example.test")
    for name in ("acme", "globex"):
        assert admin.post("/api/v1/tenants", json={"name": name}).status_code == 201
        made = admin.post("/api/v1/users", json={"email": f"manager@{name}.test", "password": PASSWORD,
                                                 "role": "manager", "tenant": name})
        assert made.status_code == 201, made.text
    manager = api.login("manager@acme.test")
    assert manager.post("/api/v1/users", json={"email": "dev@acme.test", "password": PASSWORD,
                                               "role": "user"}).status_code == 201
    other_tenant = manager.post("/api/v1/users", json={"email": "Manager@Globex.test", "password": PASSWORD,
                                                       "role": "user"})
    own_tenant = manager.post("/api/v1/users", json={"email": "dev@acme.test", "password": PASSWORD, "role": "user"})
    assert other_tenant.status_code == own_tenant.status_code == 409
    assert other_tenant.json() == own_tenant.json()
    body = other_tenant.json()
    assert body["field"] == "email" and "users_email_key" not in other_tenant.text and "globex" not in other_tenant.text
    assert [u["email"] for u in manager.get("/api/v1/users").json()["items"]] == ["dev@acme.test", "manager@acme.test"]
