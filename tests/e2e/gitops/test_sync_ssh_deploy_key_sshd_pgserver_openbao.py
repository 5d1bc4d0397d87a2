"""Pull-based GitOps over ssh: a bare repository served by a real sshd on a loopback address
(``ssh://``), a source created through the API with a deploy key (to OpenBao) and the server's host key.

A wrong host key is refused (Failed, the error says the host key did not verify) and nothing is applied;
with the right one the sync applies the branch and a pushed commit, and the guest appears. The key is
never in the database (a pg_dump of every table), the API's answers, the runs or their logs, and no file of
the sync is left in the temporary directory. An ssh source without a host key, a key with a passphrase,
and a deploy key on an https URL are refused with 422 naming the field. Real PostgreSQL, OpenBao, sshd,
git and the API.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from controlplane.gitops.sync import Syncer
from controlplane.util.net import wait_for
from tests.e2e.gitops.cliflow import Repo, git, vm_file
from tests.e2e.reconciler.apiflow import set_up
from tests.fixtures.dbdump import dump


def _other_host_key() -> str:
    key = Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def _locked_key() -> str:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"a passphrase")).decode()


def test_ssh_source_with_deploy_key_and_host_key(database, vault, pvesim_factory, ssh_host, ssh_keys, tmp_path: Path,
                                                 monkeypatch) -> None:
    work_tmp = tmp_path / "sync-tmp"
    work_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(work_tmp))  # where the sync's temporary files go
    product = set_up(database, vault, None, pvesim_factory(nodes=1, task_seconds=0), tmp_path)
    bare = tmp_path / "served" / "infra.git"
    bare.parent.mkdir()
    git(bare.parent, "init", "-q", "--bare", "-b", "main", "infra.git")
    work = Repo.init(tmp_path / "work")
    work.write("shop/web-1.yaml", vm_file("web-1"))
    first = work.commit("web-1")
    git(work.root, "push", "-q", bare.as_uri(), "main")
    url = f"ssh://root@{ssh_host.address}{bare}"
    private_key = ssh_keys.private_pem
    host_key = ssh_host.known_hosts.read_text()

    refused = {
        "known_hosts": {"url": url, "ssh_private_key": private_key},
        "ssh_private_key": {"url": url, "ssh_private_key": _locked_key(), "known_hosts": host_key},
        "token": {"url": url, "token": "t0ken", "known_hosts": host_key},
    }
    for field, body in refused.items():
        resp = product.admin.post("/api/v1/git-sources", json={"name": "bad", "tenant": "acme", **body})
        assert resp.status_code == 422 and resp.json()["field"] == field, (field, resp.text)
    https_key = product.admin.post("/api/v1/git-sources", json={
        "name": "bad", "tenant": "acme", "url": "https://git.example.test/x.git", "ssh_private_key": private_key})
    assert https_key.status_code == 422 and https_key.json()["field"] == "ssh_private_key", https_key.text

    made = product.admin.post("/api/v1/git-sources", json={
        "name": "infra", "tenant": "acme", "url": url, "ssh_private_key": private_key,
        "known_hosts": f"{ssh_host.address} {_other_host_key()}", "poll_interval_s": 600})
    assert made.status_code == 201, made.text
    source = made.json()
    assert source["has_ssh_key"] and not source["has_token"] and private_key not in made.text
    assert vault.read(f"controlplane/git-sources/{source['id']}/credentials")["ssh_private_key"] == private_key
    path = f"/api/v1/git-sources/{source['id']}"

    def state() -> dict:
        return product.admin.get(path).json()

    def vm() -> dict | None:
        items = product.user.get("/api/v1/vms", params={"name": "web-1"}).json()["items"]
        return items[0] if items else None

    syncer = Syncer(product.api.engine, vault, interval=0.5).start()
    try:
        # a server presenting another host key is refused: nothing applied, the error says why
        wait_for(lambda: state()["state"] == "Failed", timeout=60, what="the host key refused")
        failed = state()
        assert "Host key verification failed" in failed["last_error"], failed["last_error"]
        assert failed["last_applied_commit"] is None and vm() is None

        # with the server's own host key the branch is applied, then a pushed commit
        etag = product.admin.get(path).headers["ETag"]
        fixed = product.admin.patch(path, json={"known_hosts": host_key},
                                    headers={"If-Match": etag})
        assert fixed.status_code == 200 and fixed.json()["known_hosts"].startswith(ssh_host.address), fixed.text
        wait_for(lambda: state()["last_applied_commit"] == first, timeout=60, what="the first sync over ssh")
        assert state()["state"] == "Synced" and vm()["metadata"]["managed_by"] == "git:infra"
        work.write("shop/web-1.yaml", vm_file("web-1", cores=2))
        second = work.commit("more cores")
        git(work.root, "push", "-q", bare.as_uri(), "main")
        etag = product.admin.get(path).headers["ETag"]
        assert product.admin.patch(path, json={"poll_interval_s": 10}, headers={"If-Match": etag}).status_code == 200
        wait_for(lambda: state()["last_applied_commit"] == second, timeout=60, what="the pushed commit")
        assert vm()["spec"]["cores"] == 2
    finally:
        syncer.stop()

    runs = product.admin.get("/api/v1/runs", params={"target_id": source["id"], "limit": 50}).json()["items"]
    logs = [product.admin.get(f"/api/v1/runs/{r['id']}/log", params={"limit": 1000}).json() for r in runs]
    assert {r["state"] for r in runs} >= {"succeeded"}
    seen = json.dumps(runs) + json.dumps(logs) + json.dumps(state()) + dump(product.database)
    key_body = [line for line in private_key.splitlines() if "PRIVATE KEY" not in line]
    for secret in [private_key, *key_body]:
        assert secret not in seen, secret[:16]
    assert list(work_tmp.iterdir()) == [], "the sync left files behind"
