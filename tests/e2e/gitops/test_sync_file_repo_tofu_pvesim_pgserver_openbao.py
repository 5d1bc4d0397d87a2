"""Pull-based GitOps from a bare repository on disk (``file://``), the whole product real (PostgreSQL,
OpenBao, the API, a worker with OpenTofu + bpg, pvesim, git) and no webhook: the sync's poll applies the
branch (a project's members and a guest, which the reconciler makes Ready on the simulator); a push is
picked up by the next poll and converges in place; a commit the server refuses inside the apply (a
member who does not exist, beside a valid guest change) applies nothing: the source is Failed naming
file and line, its last applied commit, the guest and the project stay as they were, and a run records
it; the fix is then picked up by the poll.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from controlplane.gitops.sync import Syncer
from controlplane.util.net import wait_for
from tests.e2e.gitops.cliflow import Repo, git, vm_file
from tests.e2e.reconciler.apiflow import set_up
from tests.fixtures.api import PASSWORD
from tests.integration.reconciler.harness import proxmox

GUEST = "infra/shop/web-1.yaml"
PROJECT = "infra/shop/project.yaml"


def _project(*members: str) -> str:
    return yaml.safe_dump({"apiVersion": "controlplane/v1", "kind": "Project",
                           "metadata": {"name": "shop", "tenant": "acme"},
                           "spec": {"description": "the shop", "members": list(members)}}, sort_keys=False)


def test_file_source_poll_push_and_failing_commit(database, vault, toolchain, pvesim_factory, tmp_path: Path) -> None:
    sim = pvesim_factory(nodes=1, task_seconds=0)
    product = set_up(database, vault, toolchain, sim, tmp_path)
    made = product.admin.post("/api/v1/users", json={"email": "qa@acme.test", "password": PASSWORD,
                                                     "role": "user", "tenant": "acme"})
    assert made.status_code == 201, made.text
    bare = tmp_path / "remote" / "infra.git"
    bare.parent.mkdir()
    git(bare.parent, "init", "-q", "--bare", "-b", "main", "infra.git")
    work = Repo.init(tmp_path / "work")
    work.write(PROJECT, _project("dev@acme.test", "qa@acme.test"))
    work.write(GUEST, vm_file("web-1"))
    first = work.commit("shop and web-1")
    git(work.root, "push", "-q", bare.as_uri(), "main")

    source = product.admin.post("/api/v1/git-sources", json={
        "name": "infra", "tenant": "acme", "url": bare.as_uri(), "branch": "main", "path": "infra",
        "poll_interval_s": 10})
    assert source.status_code == 201, source.text
    source_id = source.json()["id"]

    def state() -> dict[str, Any]:
        return product.admin.get(f"/api/v1/git-sources/{source_id}").json()

    def vm() -> dict[str, Any] | None:
        items = product.user.get("/api/v1/vms", params={"name": "web-1"}).json()["items"]
        return items[0] if items else None

    def members() -> set[str]:
        found = product.admin.get(f"/api/v1/projects/{product.project_id}/members").json()
        rows = found["items"] if isinstance(found, dict) else found
        users = product.admin.get("/api/v1/users", params={"limit": 100}).json()["items"]
        emails = {u["id"]: u["email"] for u in users}
        return {emails[m["user_id"]] for m in rows}

    def push(message: str) -> str:
        commit = work.commit(message)
        git(work.root, "push", "-q", bare.as_uri(), "main")
        return commit

    syncer = Syncer(product.api.engine, vault, interval=0.5).start()
    try:
        with product.worker():
            # the first poll applies the branch; the reconciler makes the guest Ready
            wait_for(lambda: state()["last_applied_commit"] == first, timeout=60, what="first sync")
            assert state()["state"] == "Synced" and members() == {"dev@acme.test", "qa@acme.test"}
            web = product.wait_ready(vm(), timeout=180)
            assert web["metadata"]["managed_by"] == "git:infra"
            assert web["metadata"]["source"] == {"repository": bare.as_uri(), "file": GUEST, "commit": first}

            # a push, no webhook: the poll picks it up and the guest converges in place
            work.write(GUEST, vm_file("web-1", cores=2))
            second = push("more cores")
            wait_for(lambda: state()["last_applied_commit"] == second, timeout=60, interval=0.5, what="polled push")
            resized = product.wait_ready(web, web["metadata"]["generation"] + 1, timeout=180)
            assert resized["status"]["vmid"] == web["status"]["vmid"] and resized["spec"]["cores"] == 2
            assert int(proxmox(sim).nodes(resized["status"]["node"]).qemu(resized["status"]["vmid"])
                       .config.get()["cores"]) == 2

            # valid files the server refuses in the apply: nothing of the commit is applied
            work.write(GUEST, vm_file("web-1", cores=4))
            work.write(PROJECT, _project("dev@acme.test", "nobody@acme.test"))
            third = push("an unknown member")
            wait_for(lambda: state()["last_seen_commit"] == third and state()["state"] == "Failed", timeout=60,
                     interval=0.5, what="failed sync")
            failed = state()
            assert f"{PROJECT}:1" in failed["last_error"] and "nobody@acme.test" in failed["last_error"], failed
            assert failed["last_applied_commit"] == second
            assert vm()["spec"]["cores"] == 2 and vm()["metadata"]["source"]["commit"] == second
            assert members() == {"dev@acme.test", "qa@acme.test"}
            runs = product.admin.get("/api/v1/runs", params={"target_id": source_id, "limit": 50}).json()["items"]
            assert {r["state"] for r in runs} == {"succeeded", "failed"}, runs

            # the fix is picked up by the poll
            work.write(PROJECT, _project("dev@acme.test"))
            fourth = push("only dev")
            wait_for(lambda: state()["last_applied_commit"] == fourth, timeout=60, interval=0.5, what="fixed sync")
            assert state()["state"] == "Synced" and state()["last_error"] is None
            assert members() == {"dev@acme.test"}
            product.wait_ready(resized, resized["metadata"]["generation"] + 1, timeout=180)
    finally:
        syncer.stop()
