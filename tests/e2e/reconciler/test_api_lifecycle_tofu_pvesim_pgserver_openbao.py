"""A VM and a container through the whole product, driven over ``/api/v1`` as a user drives it: created with
``node: auto`` and converged to Ready with vmid, node and IP; resized in place with PATCH + If-Match (same
vmid, the run's plan says update); stopped and started with actions; deleted out of band in the simulator
(Drifted, then recreated); deleted with DELETE (destroyed, 404, gone from the simulator); every run listed
by ``GET /api/v1/runs`` with its log. Real PostgreSQL, OpenBao, OpenTofu + bpg/proxmox, pvesim, worker.
"""

from __future__ import annotations

from pathlib import Path

from controlplane.util.net import wait_for
from tests.e2e.reconciler.apiflow import PATHS, Product, condition, set_up
from tests.integration.reconciler.harness import proxmox

API = {"VirtualMachine": "qemu", "Container": "lxc"}


def _resize(product: Product, doc: dict, px) -> dict:
    ready = product.wait_ready(doc)
    vmid, node = ready["status"]["vmid"], ready["status"]["node"]
    stale = product.user.patch(f"{PATHS[doc['kind']]}/{doc['id']}", json={"spec": {"cores": 2}},
                               headers={"If-Match": '"0"'})
    assert stale.status_code == 412, stale.text
    etag = product.user.get(f"{PATHS[doc['kind']]}/{doc['id']}").headers["ETag"]
    resp = product.user.patch(f"{PATHS[doc['kind']]}/{doc['id']}", json={"spec": {"cores": 2, "memory_mb": 1024}},
                              headers={"If-Match": etag})
    assert resp.status_code == 200, resp.text
    resized = product.wait_ready(doc, resp.json()["metadata"]["generation"])
    assert (resized["status"]["vmid"], resized["status"]["node"]) == (vmid, node), "recreated instead of updated"
    config = getattr(px.nodes(node), API[doc["kind"]])(vmid).config.get()
    assert (int(config["cores"]), int(config["memory"])) == (2, 1024)
    runs = product.runs(doc)
    last = runs[-1]
    assert last["action"] == "update" and last["summary"]["plan"]["counts"]["update"] == 1, last
    first_log = product.log(runs[0])
    assert any(line["stream"] == "tofu" for line in first_log), first_log[:5]
    assert any("intent recorded" in line["line"] for line in first_log)
    return resized


def _power(product: Product, doc: dict, px, action: str, expected: str) -> None:
    resp = product.user.post(f"{PATHS[doc['kind']]}/{doc['id']}/actions/{action}")
    assert resp.status_code == 202, resp.text
    _, now = product.get(doc)
    done = product.wait(doc, lambda d: d["status"]["power"] == expected and condition(d, "Ready")["status"] == "True"
                        and d["status"]["observed_generation"] >= now["metadata"]["generation"],
                        f"{doc['metadata']['name']} {expected}")
    current = getattr(px.nodes(done["status"]["node"]), API[doc["kind"]])(done["status"]["vmid"]).status.current
    assert current.get()["status"] == expected


def test_vm_and_container_through_the_api(database, vault, toolchain, pvesim_factory, tmp_path: Path) -> None:
    sim = pvesim_factory(nodes=2, task_seconds=0)
    product = set_up(database, vault, toolchain, sim, tmp_path)
    px = proxmox(sim)
    vm = product.create("VirtualMachine", "web-1")
    ct = product.create("Container", "cache-1")
    assert vm["status"]["vmid"] is None and vm["spec"]["node"] == "auto" and vm["spec"]["drift_policy"] == "correct"
    with product.worker():
        for doc in (vm, ct):
            ready = product.wait_ready(doc)
            status = ready["status"]
            assert status["vmid"] and status["node"] in ("pve1", "pve2") and status["ipv4"], status
            assert status["power"] == "running" and status["placement"]["policy"] in ("spread", "pack"), status
            assert condition(ready, "Provisioned")["status"] == "True"
            assert status.get("create_pending") is None
        vmids = {doc["id"]: product.get(doc)[1]["status"]["vmid"] for doc in (vm, ct)}

        for doc in (vm, ct):
            _resize(product, doc, px)
            _power(product, doc, px, "stop", "stopped")
            _power(product, doc, px, "start", "running")
        observed = product.wait(vm, lambda d: d["status"].get("observed_at") is not None, "an observation")
        assert observed["status"]["uptime"] is not None and observed["status"]["mem_mb"] is not None

        sim.state.delete_guest(vmids[vm["id"]])
        drifted = product.wait(vm, lambda d: condition(d, "Drifted").get("status") == "True", "drift", timeout=30)
        assert condition(drifted, "Drifted")["reason"] == "GuestMissing" and drifted["status"]["drift"]["reasons"]
        back = product.wait(vm, lambda d: condition(d, "Drifted")["status"] == "False"
                            and condition(d, "Ready")["status"] == "True", "the VM to be recreated")
        assert back["status"]["vmid"] == vmids[vm["id"]]
        assert px.nodes(back["status"]["node"]).qemu(back["status"]["vmid"]).status.current.get()["status"] == "running"

        for doc in (vm, ct):
            etag = product.user.get(f"{PATHS[doc['kind']]}/{doc['id']}").headers["ETag"]
            resp = product.user.delete(f"{PATHS[doc['kind']]}/{doc['id']}", headers={"If-Match": etag})
            assert resp.status_code == 202, resp.text
        for doc in (vm, ct):
            wait_for(lambda d=doc: product.get(d)[0] == 404, timeout=120, interval=0.2,
                     what=f"{doc['metadata']['name']} to be gone")
    left = {g["vmid"] for g in px.cluster.resources.get(type="vm")}
    assert not left & set(vmids.values()), left

    # A user sees the runs of the guests they see; once a guest's row is gone, its runs stay for the admin.
    listed = product.admin.get("/api/v1/runs", params={"limit": 100})
    assert listed.status_code == 200
    runs = listed.json()["items"]
    for doc in (vm, ct):
        mine = sorted((r for r in runs if r["target_id"] == doc["id"]), key=lambda r: r["started_at"])
        actions = [r["action"] for r in mine]
        assert actions[0] == "create" and "update" in actions and actions[-1] == "delete", actions
        assert all(r["state"] == "succeeded" for r in mine), [(r["action"], r["state"], r["error"]) for r in mine]
        log = product.admin.get(f"/api/v1/runs/{mine[-1]['id']}/log").json()
        assert any(line["stream"] == "tofu" for line in log) and any("destroyed" in line["line"] for line in log)
