"""GitOps through the CLI against the whole product over HTTP (uvicorn, PostgreSQL, OpenBao, OpenTofu +
bpg, pvesim, a worker), with a real git repository of files, one story on one stack:

diff on a new tree shows creates (exit 2), apply creates them, the reconciler makes them Ready, diff is
clean (exit 0); a changed file shows the field-level update and converges in place; a set with one invalid
document, or one quota breach, applies nothing; a removed file is deleted only with --prune and the guest
is destroyed; a hand-made VM of the same name is a conflict until --adopt, and then a PATCH gets 409
naming the file; an export of hand-made guests diffs clean.
"""

from __future__ import annotations

import json
from pathlib import Path

from controlplane.util.net import wait_for
from tests.e2e.gitops.cliflow import Cli, Repo, vm_file
from tests.e2e.reconciler.apiflow import Product, set_up
from tests.fixtures.api import serve
from tests.integration.reconciler.harness import proxmox

WEB = "shop/VirtualMachine/web-1.yaml"
CACHE = "shop/Container/cache-1.yaml"


def _ok(out, code: int = 0) -> str:
    assert out.returncode == code, f"exit {out.returncode}\nstdout: {out.stdout}\nstderr: {out.stderr}"
    return out.stdout


def _find(product: Product, path: str, name: str) -> dict | None:
    items = product.user.get(path, params={"name": name}).json()["items"]
    return items[0] if items else None


def _wait_converged(product: Product, path: str, name: str) -> dict:
    doc = _find(product, path, name)
    assert doc is not None, f"{name} is not on the server"
    return product.wait_ready(doc, timeout=180)


def test_diff_apply_prune_adopt_export(database, vault, toolchain, pvesim_factory, tmp_path: Path) -> None:
    sim = pvesim_factory(nodes=1, task_seconds=0)
    product = set_up(database, vault, toolchain, sim, tmp_path)
    live = serve(product.api.app)
    key = product.user.post("/api/v1/api-keys", json={"name": "ci"})
    assert key.status_code == 201, key.text
    cli = Cli(live.url, key.json()["key"])
    repo = Repo.init(tmp_path / "infra")
    repo.write(WEB, vm_file("web-1"))
    repo.write(CACHE, vm_file("cache-1", kind="Container"))
    first = repo.commit("two guests")
    try:
        with product.worker():
            # 2. creates, applied, Ready, then a clean diff
            plan = _ok(cli("diff", "--source", "infra", ".", cwd=repo.root), 2)
            assert "+ create VirtualMachine shop/web-1" in plan and "+ create Container shop/cache-1" in plan
            _ok(cli("apply", "--source", "infra", str(repo.root)))  # from outside: files named inside the repo
            web = _wait_converged(product, "/api/v1/vms", "web-1")
            _wait_converged(product, "/api/v1/containers", "cache-1")
            assert web["metadata"]["managed_by"] == "git:infra"
            assert web["metadata"]["source"]["file"] == WEB and web["metadata"]["source"]["commit"] == first
            _ok(cli("diff", "--source", "infra", ".", cwd=repo.root), 0)

            # 3. a change shows field by field and converges in place
            repo.write(WEB, vm_file("web-1", cores=2))
            repo.commit("more cores")
            plan = json.loads(_ok(cli("diff", "--source", "infra", "--format", "json", ".", cwd=repo.root), 2))
            update = [c for c in plan["changes"] if c["action"] == "update"]
            assert [(c["name"], [(f["path"], f["old"], f["new"]) for f in c["fields"]]) for c in update] == [
                ("web-1", [("spec.cores", 1, 2)])]
            _ok(cli("apply", "--source", "infra", ".", cwd=repo.root))
            resized = product.wait_ready(web, web["metadata"]["generation"] + 1, timeout=180)
            assert resized["status"]["vmid"] == web["status"]["vmid"] and resized["spec"]["cores"] == 2
            config = proxmox(sim).nodes(resized["status"]["node"]).qemu(resized["status"]["vmid"]).config.get()
            assert int(config["cores"]) == 2

            # 5. one invalid document, or one quota breach, applies nothing
            repo.write(CACHE, vm_file("cache-1", kind="Container", memory_mb=1024))
            repo.write("shop/VirtualMachine/bad.yaml", vm_file("bad-1", cores=0))
            refused = cli("apply", "--source", "infra", ".", cwd=repo.root)
            assert refused.returncode == 1 and "shop/VirtualMachine/bad.yaml:" in refused.stderr, refused.stderr
            repo.remove("shop/VirtualMachine/bad.yaml")
            quota = product.admin.patch(f"/api/v1/projects/{product.project_id}", json={"quota": {"guests": 2}})
            assert quota.status_code == 200, quota.text
            repo.write("shop/VirtualMachine/web-9.yaml", vm_file("web-9"))
            breach = cli("apply", "--source", "infra", ".", cwd=repo.root)
            assert breach.returncode == 1 and "shop/VirtualMachine/web-9.yaml:1" in breach.stderr, breach.stderr
            assert _find(product, "/api/v1/containers", "cache-1")["spec"]["memory_mb"] == 512
            assert _find(product, "/api/v1/vms", "web-9") is None
            repo.remove("shop/VirtualMachine/web-9.yaml")
            repo.write(CACHE, vm_file("cache-1", kind="Container"))
            assert product.admin.patch(f"/api/v1/projects/{product.project_id}",
                                       json={"quota": {"guests": 10}}).status_code == 200

            # 4. a removed file is deleted only with --prune, and the guest is destroyed
            repo.remove(WEB)
            repo.commit("web-1 goes")
            _ok(cli("diff", "--source", "infra", ".", cwd=repo.root), 0)
            plan = _ok(cli("diff", "--source", "infra", "--prune", ".", cwd=repo.root), 2)
            assert "- delete VirtualMachine shop/web-1" in plan
            _ok(cli("apply", "--source", "infra", "--prune", ".", cwd=repo.root))
            wait_for(lambda: product.get(web)[0] == 404, timeout=180, interval=0.5, what="web-1 destroyed")
            assert web["status"]["vmid"] not in {g["vmid"] for g in proxmox(sim).cluster.resources.get(type="vm")}

            # 6. a hand-made VM is a conflict until --adopt; then a spec PATCH gets 409 naming the file
            hand = product.create("VirtualMachine", "hand-1", node="auto")
            repo.write("shop/VirtualMachine/hand-1.yaml", vm_file("hand-1", memory_mb=1024))
            repo.commit("hand-1 in git")
            conflict = cli("diff", "--source", "infra", ".", cwd=repo.root)
            assert conflict.returncode == 1 and "! conflict VirtualMachine shop/hand-1" in conflict.stdout
            refused = cli("apply", "--source", "infra", ".", cwd=repo.root)
            assert refused.returncode == 1 and "made by hand" in refused.stderr
            assert product.get(hand)[1]["spec"]["memory_mb"] == 512
            _ok(cli("apply", "--source", "infra", "--adopt", ".", cwd=repo.root))
            adopted = product.get(hand)[1]
            assert adopted["metadata"]["managed_by"] == "git:infra" and adopted["spec"]["memory_mb"] == 1024
            patched = product.user.patch(f"/api/v1/vms/{hand['id']}", json={"spec": {"cores": 4}})
            assert patched.status_code == 409 and "shop/VirtualMachine/hand-1.yaml" in patched.text, patched.text

            # 7. export of hand-made guests, then diff on the export: no changes
            product.create("VirtualMachine", "hand-2", power="stopped", ssh_keys=[])
            exported = tmp_path / "exported"
            _ok(cli("export", "--project", "shop", str(exported)))
            assert (exported / "shop/VirtualMachine/hand-2.yaml").read_text().startswith("# managed_by: api")
            assert "status" not in (exported / "shop/VirtualMachine/hand-2.yaml").read_text()
            _ok(cli("validate", str(exported)))
            _ok(cli("diff", "--source", "infra", str(exported)), 0)
    finally:
        live.server.should_exit = True
        live.thread.join(timeout=10)
