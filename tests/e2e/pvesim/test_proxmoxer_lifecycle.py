"""Proof with a real client: proxmoxer drives the whole VM and container life cycle against pvesim,
with an API token and with a password ticket."""

from __future__ import annotations

from typing import Any

import pytest
from proxmoxer.core import ResourceException

from controlplane.util.net import wait_for
from tests.fixtures.pvesim import proxmox_client, wait_task


def _ok(px: Any, node: str, upid: str) -> None:
    status = wait_task(px, node, upid)
    assert status["exitstatus"] == "OK", status


def _status(px: Any, node: str, kind: str, vmid: int) -> str:
    return getattr(px.nodes(node), kind)(vmid).status.current.get()["status"]


@pytest.mark.parametrize("auth", ["token", "ticket"])
def test_vm_lifecycle(pvesim_factory: Any, auth: str) -> None:
    sim = pvesim_factory(nodes=2, task_seconds=0.2)
    px = proxmox_client(sim, password=auth != "token")
    node = px.nodes("pve1")
    vmid = int(px.cluster.nextid.get())
    _ok(
        px,
        "pve1",
        node.qemu.create(
            vmid=vmid,
            name="web1",
            memory="2048",
            cores=2,
            sockets=1,
            scsi0="file=local-lvm:8,size=8589934592,iothread=0,cache=none",
            net0="model=virtio,bridge=vmbr0,firewall=0",
            agent="enabled=1",
            onboot=1,
            ostype="l26",
        ),
    )
    config = node.qemu(vmid).config.get()
    assert config["memory"] == "2048" and config["cores"] == 2 and config["onboot"] == 1
    assert config["scsi0"].startswith(f"local-lvm:vm-{vmid}-disk-0,") and "size=8G" in config["scsi0"]
    assert config["net0"].startswith("virtio=BC:24:11:")

    node.qemu(vmid).config.put(cores=4, digest=config["digest"], delete="onboot")
    updated = node.qemu(vmid).config.get()
    assert updated["cores"] == 4 and "onboot" not in updated and updated["digest"] != config["digest"]
    with pytest.raises(ResourceException) as stale:
        node.qemu(vmid).config.put(cores=1, digest=config["digest"])
    assert "detected modified configuration" in str(stale.value)

    _ok(px, "pve1", node.qemu(vmid).status.start.post())
    assert _status(px, "pve1", "qemu", vmid) == "running"
    sim.set_guest_ip(vmid, "127.0.0.1")
    ifaces = node.qemu(vmid).agent("network-get-interfaces").get()["result"]
    assert {"ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 24} in ifaces[1]["ip-addresses"]
    _ok(px, "pve1", node.qemu(vmid).status.shutdown.post())
    assert _status(px, "pve1", "qemu", vmid) == "stopped"

    _ok(px, "pve1", node.qemu(vmid).resize.put(disk="scsi0", size="+2G"))
    assert "size=10G" in node.qemu(vmid).config.get()["scsi0"]
    snaps = node.qemu(vmid).snapshot.get()
    assert [s["name"] for s in snaps] == ["current"]

    clone_id = vmid + 1
    _ok(px, "pve1", node.qemu(vmid).clone.post(newid=clone_id, name="web2", target="pve2"))
    clone_cfg = px.nodes("pve2").qemu(clone_id).config.get()
    assert clone_cfg["name"] == "web2" and clone_cfg["scsi0"].startswith(f"local-lvm:vm-{clone_id}-disk-0")

    _ok(px, "pve1", node.qemu(vmid).template.post())
    assert node.qemu(vmid).config.get()["template"] == 1
    resources = {r["vmid"]: r for r in px.cluster.resources.get(type="vm")}
    assert resources[vmid]["template"] == 1 and resources[clone_id]["node"] == "pve2"

    for n, v in (("pve1", vmid), ("pve2", clone_id)):
        _ok(px, n, px.nodes(n).qemu(v).delete(purge=1, **{"destroy-unreferenced-disks": 1}))
        with pytest.raises(ResourceException) as gone:
            px.nodes(n).qemu(v).status.current.get()
        assert "does not exist" in str(gone.value)
    volids = [c["volid"] for c in node.storage("local-lvm").content.get()]
    assert not [v for v in volids if f"-{vmid}-" in v]


@pytest.mark.parametrize("auth", ["token", "ticket"])
def test_container_lifecycle(pvesim_factory: Any, auth: str) -> None:
    sim = pvesim_factory(nodes=1)
    px = proxmox_client(sim, password=auth != "token")
    node = px.nodes("pve1")
    template = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
    assert template in [c["volid"] for c in node.storage("local").content.get(content="vztmpl")]
    _ok(
        px,
        "pve1",
        node.lxc.create(
            vmid=200,
            ostemplate=template,
            hostname="ct1",
            memory=512,
            swap=0,
            cores=1,
            rootfs="local-lvm:4",
            net0="name=eth0,bridge=vmbr0,ip=dhcp",
            unprivileged=1,
            password="secret123",
        ),
    )
    config = node.lxc(200).config.get()
    assert config["hostname"] == "ct1" and config["memory"] == 512 and config["unprivileged"] == 1
    assert config["rootfs"] == "local-lvm:vm-200-disk-0,size=4G"
    assert config["net0"].startswith("name=eth0,bridge=vmbr0,hwaddr=BC:24:11:")

    node.lxc(200).config.put(memory=1024, digest=config["digest"])
    assert node.lxc(200).config.get()["memory"] == 1024
    _ok(px, "pve1", node.lxc(200).status.start.post())
    assert _status(px, "pve1", "lxc", 200) == "running"
    ifaces = wait_for(lambda: node.lxc(200).interfaces.get(), timeout=60, what="interfaces")
    eth0 = next(i for i in ifaces if i["name"] == "eth0")
    assert eth0["hwaddr"] and eth0["inet"].endswith("/24")
    _ok(px, "pve1", node.lxc(200).status.stop.post())
    _ok(px, "pve1", node.lxc(200).resize.put(disk="rootfs", size="8G"))
    assert "size=8G" in node.lxc(200).config.get()["rootfs"]
    assert node.lxc(200).snapshot.get()[0]["name"] == "current"
    _ok(px, "pve1", node.lxc(200).clone.post(newid=201, hostname="ct2"))
    assert node.lxc(201).config.get()["hostname"] == "ct2"
    assert node.lxc(200).template.post() is None
    assert node.lxc(200).config.get()["template"] == 1
    for vmid in (200, 201):
        _ok(px, "pve1", node.lxc(vmid).delete(purge=1, force=1))
    assert not [c for c in node.storage("local-lvm").content.get() if c.get("vmid") in (200, 201)]
