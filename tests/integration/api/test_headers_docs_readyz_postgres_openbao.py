"""Security headers on every response, Swagger UI served locally (or off), and what ``/readyz`` tells whom.
Real PostgreSQL and OpenBao behind the app."""

from __future__ import annotations

import re
from typing import Any

from controlplane.api.middleware import CONTENT_SECURITY_POLICY
from tests.fixtures.api import Api, World, build_api


def _assert_hardened(response: Any) -> None:
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff", response.url
    assert headers["x-frame-options"] == "DENY"
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer"


def test_every_kind_of_response_carries_the_security_headers(world: World) -> None:
    client = world.api.client()
    responses = [
        client.get("/healthz"),
        client.get("/readyz"),
        client.get("/openapi.json"),
        client.get("/docs"),
        client.get("/api/v1/vms"),  # 401
        world.acme.member.get("/api/v1/tenants/00000000-0000-0000-0000-000000000000"),  # 404
        world.acme.member.post("/api/v1/vms", json={"metadata": {}}),  # 422
        world.acme.member.get("/api/v1/vms"),  # 200
        client.get("/no/such/page"),
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 401, 404, 422, 200, 404]
    for response in responses:
        _assert_hardened(response)


def test_docs_reference_no_external_host_and_their_assets_are_served(api: Api) -> None:
    client = api.client()
    page = client.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    assert not re.search(r"(src|href)=\"(https?:)?//", page.text), page.text
    assert "<script>" not in page.text  # no inline script: the CSP allows scripts from this origin only
    for ref in re.findall(r"(?:src|href)=\"([^\"]+)\"", page.text):
        asset = client.get(ref)
        assert asset.status_code == 200 and len(asset.content) > 0, ref
    assert "/openapi.json" in page.text


def test_docs_can_be_turned_off(database: Any, vault: Any) -> None:
    built = build_api(database, vault, api_docs=False)
    try:
        client = built.client()
        assert client.get("/docs").status_code == 404
        assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 404
        assert client.get("/redoc").status_code == 404
        assert client.get("/openapi.json").status_code == 200
    finally:
        built.engine.dispose()


def _components(response: Any) -> dict[str, dict[str, Any]]:
    assert response.status_code == 200, response.text
    return response.json()["components"]


def test_readyz_shows_versions_to_admins_only(world: World) -> None:
    world.api.deps.extra_checks["pvesim"] = lambda: {"status": "ok", "version": "sim", "url": "https://127.0.0.1:1",
                                                     "required": True}
    anonymous = _components(world.api.client().get("/readyz"))
    assert anonymous == {name: {"status": "ok", "required": True} for name in ("postgresql", "vault", "pvesim")}
    assert _components(world.api.client("not-a-token").get("/readyz")) == anonymous
    assert _components(world.acme.manager.get("/readyz")) == anonymous
    admin = _components(world.admin.get("/readyz"))
    assert admin["postgresql"]["version"] and admin["vault"]["version"]
    assert admin["pvesim"]["url"] == "https://127.0.0.1:1"


def test_readyz_details_for_everyone_by_setting(database: Any, vault: Any) -> None:
    built = build_api(database, vault, readyz_details=True)
    try:
        components = _components(built.client().get("/readyz"))
        assert components["postgresql"]["version"]
    finally:
        built.engine.dispose()
