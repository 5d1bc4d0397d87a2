"""``/api/v1/git-sources``: managers of a tenant manage its sources, other tenants and plain users see none;
hostile URLs are refused naming the field; secrets go to OpenBao and never come back."""

from __future__ import annotations

from tests.fixtures.api import World


def test_sources_stay_in_their_tenant_and_hostile_urls_are_refused(world: World) -> None:
    made = world.acme.manager.post("/api/v1/git-sources", json={
        "name": "infra", "url": "https://git.example.test/acme/infra.git", "token": "s3cr3t-value",
        "webhook_secret": "w3bh00k"})
    assert made.status_code == 201, made.text
    source = made.json()
    assert source["tenant_id"] == str(world.acme.id) and source["poll_interval_s"] == 180
    assert source["state"] == "OutOfSync" and "s3cr3t-value" not in made.text
    path = f"/api/v1/git-sources/{source['id']}"
    assert world.acme.manager.get(path).status_code == 200
    assert world.globex.manager.get(path).status_code == 404
    assert world.globex.manager.get("/api/v1/git-sources").json()["items"] == []
    assert world.acme.member.get("/api/v1/git-sources").json()["items"] == []
    assert world.acme.member.post("/api/v1/git-sources", json={
        "name": "mine", "url": "https://git.example.test/x.git"}).status_code == 403
    assert world.globex.manager.delete(path).status_code == 404
    assert world.admin.get("/api/v1/git-sources").json()["items"][0]["name"] == "infra"
    suspended = world.acme.manager.patch(path, json={"suspended": True})
    assert suspended.status_code == 200 and suspended.json()["state"] == "Suspended"
    assert world.acme.manager.delete(path).status_code == 204
    assert world.acme.manager.get(path).status_code == 404


    for url in ("ext::sh -c touch% /tmp/x", "http://git.example.test/x.git", "--upload-pack=x",
                "https://user:pass@git.example.test/x.git", "ftp://git.example.test/x.git"):
        resp = world.acme.manager.post("/api/v1/git-sources", json={"name": "bad", "url": url})
        assert resp.status_code == 422 and "url" in resp.text, (url, resp.text)
