"""Pull-based GitOps: a git source served over smart HTTP (``git http-backend``) with a basic-auth token
kept in OpenBao; the sync loop applies the branch on its first poll, a push plus a webhook with a valid
signature syncs within seconds, a bad signature gets 401, a commit with an invalid document applies
nothing (Failed with file:line, the last good state stays), and without a webhook the poll picks the
next commit up. Real PostgreSQL, OpenBao, git and the API over uvicorn."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import httpx

from controlplane.gitops.sync import Syncer
from controlplane.util.net import wait_for
from tests.e2e.gitops.cliflow import Repo, git, vm_file
from tests.e2e.gitops.smarthttp import GitHttpServer
from tests.e2e.reconciler.apiflow import set_up
from tests.fixtures.api import serve

TOKEN = "tok-3f9c2e71b5d84a06"
HOOK_SECRET = "hook-5a1e9d0c7b"


def _signature(body: bytes, secret: str = HOOK_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_smart_http_source_webhook_and_poll(database, vault, pvesim_factory, tmp_path: Path) -> None:
    product = set_up(database, vault, None, pvesim_factory(nodes=1, task_seconds=0), tmp_path)
    live = serve(product.api.app)
    served = tmp_path / "served"
    served.mkdir()
    git(served, "init", "-q", "--bare", "-b", "main", "infra.git")
    http = GitHttpServer(served, "ci", TOKEN)
    base = http.start()
    work = Repo.init(tmp_path / "work")
    work.write("guests/shop/web-1.yaml", vm_file("web-1"))
    work.write("README.md", "not read: only the path guests/ is\n")
    first = work.commit("web-1")
    push = ("push", "-q", (served / "infra.git").as_uri(), "main")
    git(work.root, *push)

    made = product.admin.post("/api/v1/git-sources", json={
        "name": "infra", "tenant": "acme", "url": f"{base}/infra.git", "branch": "main", "path": "guests",
        "username": "ci", "token": TOKEN, "webhook_secret": HOOK_SECRET, "poll_interval_s": 600})
    assert made.status_code == 201, made.text
    source = made.json()
    assert source["has_token"] and source["has_webhook_secret"] and TOKEN not in made.text
    assert vault.read(f"controlplane/git-sources/{source['id']}/credentials")["token"] == TOKEN
    hook = f"{live.url}{source['webhook_path']}"

    def state() -> dict:
        return product.admin.get(f"/api/v1/git-sources/{source['id']}").json()

    def vm() -> dict | None:
        items = product.user.get("/api/v1/vms", params={"name": "web-1"}).json()["items"]
        return items[0] if items else None

    syncer = Syncer(product.api.engine, vault, interval=0.5).start()
    try:
        # the first poll applies the branch
        wait_for(lambda: state()["last_applied_commit"] == first, timeout=60, what="first sync")
        assert state()["state"] == "Synced" and http.seen_users and http.refused >= 1
        assert vm()["metadata"]["managed_by"] == "git:infra"
        pushed = product.user.post("/api/v1/gitops/apply", json={"source": "infra", "documents": [], "prune": True})
        assert pushed.status_code == 403 and "pulls" in pushed.text, pushed.text
        assert vm() is not None
        assert vm()["metadata"]["source"] == {"repository": f"{base}/infra.git", "file": "guests/shop/web-1.yaml",
                                              "commit": first}

        # a push and a signed webhook sync within seconds; a bad signature is 401
        work.write("guests/shop/web-1.yaml", vm_file("web-1", cores=2))
        second = work.commit("more cores")
        git(work.root, *push)
        body = json.dumps({"ref": "refs/heads/main", "after": second}).encode()
        bad = httpx.post(hook, content=body, headers={"X-Hub-Signature-256": _signature(body, "wrong")})
        assert bad.status_code == 401, bad.text
        assert httpx.post(hook, content=body).status_code == 401
        good = httpx.post(hook, content=body, headers={"X-Hub-Signature-256": _signature(body),
                                                       "Content-Type": "application/json"})
        assert good.status_code == 202, good.text
        wait_for(lambda: state()["last_applied_commit"] == second, timeout=30, what="webhook sync")
        assert vm()["spec"]["cores"] == 2
        too_big = httpx.post(hook, content=b"x" * (2 * 1024 * 1024), headers={"X-Hub-Signature-256": "sha256=0"})
        assert too_big.status_code == 413

        # a commit with one invalid document applies nothing and says where
        work.write("guests/shop/web-1.yaml", vm_file("web-1", cores=4))
        work.write("guests/shop/bad.yaml", vm_file("bad-1", memry_mb=1))
        third = work.commit("a typo")
        git(work.root, *push)
        body = json.dumps({"after": third}).encode()
        assert httpx.post(hook, content=body, headers={"X-Hub-Signature-256": _signature(body)}).status_code == 202
        wait_for(lambda: state()["last_seen_commit"] == third and state()["state"] == "Failed", timeout=30,
                 what="failed sync")
        failed = state()
        assert "guests/shop/bad.yaml:" in failed["last_error"] and "spec.memry_mb" in failed["last_error"]
        assert failed["last_applied_commit"] == second and vm()["spec"]["cores"] == 2
        runs = product.admin.get("/api/v1/runs", params={"target_id": source["id"], "limit": 50}).json()["items"]
        assert {r["state"] for r in runs} == {"succeeded", "failed"}, runs
        assert TOKEN not in json.dumps(runs) and TOKEN not in json.dumps(failed)

        # without a webhook, the poll picks the fix up
        etag = product.admin.get(f"/api/v1/git-sources/{source['id']}").headers["ETag"]
        faster = product.admin.patch(f"/api/v1/git-sources/{source['id']}", json={"poll_interval_s": 10},
                                     headers={"If-Match": etag})
        assert faster.status_code == 200, faster.text
        work.remove("guests/shop/bad.yaml")
        fourth = work.commit("typo fixed")
        git(work.root, *push)
        wait_for(lambda: state()["last_applied_commit"] == fourth, timeout=90, interval=1, what="polled sync")
        assert state()["state"] == "Synced" and state()["last_error"] is None and vm()["spec"]["cores"] == 4
    finally:
        syncer.stop()
        http.stop()
        live.server.should_exit = True
        live.thread.join(timeout=10)
