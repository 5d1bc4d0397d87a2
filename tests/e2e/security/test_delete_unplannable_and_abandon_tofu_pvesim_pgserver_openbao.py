"""Deleting a guest never needs its spec to plan, and admins can abandon one, over the API: a container
whose spec was changed to something that cannot plan (an unknown image) fails for good, and a DELETE
still destroys it (gone from the simulator, 404); a VM abandoned by an admin is forgotten at once (404,
audited with its vmid) while its guest stays in the simulator, untouched by the worker; a plain user may
not abandon. Real PostgreSQL, OpenBao, OpenTofu + bpg/proxmox, pvesim, worker.
"""

from __future__ import annotations

from pathlib import Path

from controlplane.util.net import wait_for
from tests.e2e.reconciler.apiflow import PATHS, Product, condition, set_up
from tests.integration.reconciler.harness import proxmox


def _vmids(px) -> set[int]:
    return {int(g["vmid"]) for g in px.cluster.resources.get(type="vm")}


def test_delete_without_a_plan_and_abandon(database, vault, toolchain, pvesim_factory, tmp_path: Path) -> None:
    sim = pvesim_factory(nodes=1, task_seconds=0)
    product: Product = set_up(database, vault, toolchain, sim, tmp_path)
    px = proxmox(sim)
    ct = product.create("Container", "stuck-1")
    vm = product.create("VirtualMachine", "kept-1")
    with product.worker():
        ct_ready, vm_ready = product.wait_ready(ct), product.wait_ready(vm)
        ct_vmid, vm_vmid = ct_ready["status"]["vmid"], vm_ready["status"]["vmid"]
        assert {ct_vmid, vm_vmid} <= _vmids(px)

        broken = product.user.patch(f"{PATHS['Container']}/{ct['id']}", json={"spec": {"image": "no-such-os"}})
        assert broken.status_code == 200, broken.text
        failed = product.wait(ct, lambda d: condition(d, "Ready").get("reason") == "Failed", "a permanent failure")
        assert "no-such-os" in failed["status"]["last_error"]
        resp = product.user.delete(f"{PATHS['Container']}/{ct['id']}")
        assert resp.status_code == 202, resp.text
        wait_for(lambda: product.get(ct)[0] == 404, timeout=120, interval=0.2, what="the container to be gone")
        assert ct_vmid not in _vmids(px)

        path = f"{PATHS['VirtualMachine']}/{vm['id']}/abandon"
        assert product.user.post(path).status_code == 403
        assert product.admin.post(path, headers={"If-Match": '"0"'}).status_code == 412
        abandoned = product.admin.post(path)
        assert abandoned.status_code == 200, abandoned.text
        assert abandoned.json()["status"]["vmid"] == vm_vmid
        assert product.get(vm)[0] == 404
        # the worker keeps working and leaves the abandoned guest alone
        other = product.create("VirtualMachine", "after-1")
        product.wait_ready(other)
    assert vm_vmid in _vmids(px)
    events = product.admin.get("/api/v1/audit", params={"action": "vm.abandon", "limit": 10})
    assert events.status_code == 200, events.text
    mine = [e for e in events.json()["items"] if e["target_id"] == vm["id"]]
    assert mine and mine[0]["details"]["vmid"] == vm_vmid, events.json()
