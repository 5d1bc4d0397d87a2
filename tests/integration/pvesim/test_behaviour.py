"""Behaviour beyond shapes: locks, memory on start, uniqueness, volumes, async tasks, out-of-band drift."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from proxmoxer import ProxmoxAPI

from controlplane.util.net import wait_for
from tests.fixtures.pvesim import SimClient, wait_task

TEMPLATE = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"


def _task(client: SimClient, node: str, upid: str) -> dict[str, Any]:
    return client.data("GET", f"/nodes/{node}/tasks/{upid}/status")


def _done(client: SimClient, node: str, upid: str) -> dict[str, Any]:
    return wait_for(
        lambda: (s := _task(client, node, upid))["status"] == "stopped" and s, timeout=60, interval=0.02, what=upid
    )


def test_guest_is_locked_while_its_task_runs(pvesim_factory: Any) -> None:
    sim = pvesim_factory(nodes=1, task_seconds=1.0)
    c = SimClient(sim)
    upid = c.data("POST", "/nodes/pve1/qemu", data={"vmid": 100, "scsi0": "local-lvm:1", "memory": "512"})
    assert _task(c, "pve1", upid)["status"] == "running"
    assert c.data("GET", "/nodes/pve1/qemu/100/status/current")["lock"] == "create"
    resp = c.request("POST", "/nodes/pve1/qemu/100/status/start")
    assert resp.status_code == 500 and resp.reason == "VM 100 is locked (create)"
    assert _done(c, "pve1", upid)["exitstatus"] == "OK"
    assert "lock" not in c.data("GET", "/nodes/pve1/qemu/100/status/current")
    start = c.data("POST", "/nodes/pve1/qemu/100/status/start")
    resp = c.request("PUT", "/nodes/pve1/qemu/100/config", data={"cores": 2})
    assert resp.status_code == 500
    assert resp.reason == "can't lock file '/var/lock/qemu-server/lock-100.conf' - got timeout"
    assert _done(c, "pve1", start)["exitstatus"] == "OK"
    assert c.data("GET", "/nodes/pve1/qemu/100/status/current")["status"] == "running"


def test_memory_is_overcommitted_like_pve_and_only_an_impossible_start_fails(pvesim_factory: Any) -> None:
    sim = pvesim_factory(nodes=1, node_memory_mib=4096)
    c = SimClient(sim)
    for vmid in (100, 101):
        c.data("POST", "/nodes/pve1/qemu", data={"vmid": vmid, "memory": "3072"})
    for vmid in (100, 101):  # 6 GiB of guests on a 4 GiB node: PVE starts both
        assert _done(c, "pve1", c.data("POST", f"/nodes/pve1/qemu/{vmid}/status/start"))["exitstatus"] == "OK"
    c.data("POST", "/nodes/pve1/qemu", data={"vmid": 102, "memory": str(64 * 1024)})
    failed = _done(c, "pve1", c.data("POST", "/nodes/pve1/qemu/102/status/start"))
    assert failed["exitstatus"] == "start failed: kvm: cannot set up guest memory 'pc.ram': Cannot allocate memory"
    assert c.data("GET", "/nodes/pve1/qemu/102/status/current")["status"] == "stopped"
    log = c.data("GET", f"/nodes/pve1/tasks/{failed['upid']}/log")
    assert log[-1]["t"].startswith("TASK ERROR: start failed")


def test_starting_a_running_guest_fails_like_pve(pvesim_factory: Any) -> None:
    c = SimClient(pvesim_factory(nodes=1))
    c.data("POST", "/nodes/pve1/qemu", data={"vmid": 100, "memory": "512"})
    c.data("POST", "/nodes/pve1/lxc", data={"vmid": 101, "ostemplate": TEMPLATE})
    for kind, vmid in (("qemu", 100), ("lxc", 101)):
        assert _done(c, "pve1", c.data("POST", f"/nodes/pve1/{kind}/{vmid}/status/start"))["exitstatus"] == "OK"
    # A VM: PVE forks the start worker, which finds the VM running and fails.
    again = _done(c, "pve1", c.data("POST", "/nodes/pve1/qemu/100/status/start"))
    assert again["exitstatus"] == "VM 100 already running"
    assert c.data("GET", "/nodes/pve1/qemu/100/status/current")["status"] == "running"
    # A container: PVE checks before forking, so the call itself fails.
    resp = c.request("POST", "/nodes/pve1/lxc/101/status/start")
    assert (resp.status_code, resp.reason) == (500, "CT 101 already running")


def test_a_seeded_thousand_guest_cluster_has_room_for_one_more_vm(tmp_path: Path) -> None:
    """``controlplane pvesim --nodes 3 --guests 1000``, then proxmoxer creates and starts a 1 GiB VM."""
    cli = Path(sys.executable).parent / "controlplane"
    token = "root@pam!ci=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    proc = subprocess.Popen([str(cli), "pvesim", "--port", "0", "--nodes", "3", "--guests", "1000",
                             "--token", token, "--ca-dir", str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("pvesim ready"), line
        fields = dict(part.split("=", 1) for part in line.split()[2:])
        port = int(fields["url"].rsplit(":", 1)[1])
        px = ProxmoxAPI("127.0.0.1", port=port, user="root@pam", token_name="ci",
                        token_value=token.rsplit("=", 1)[1], verify_ssl=fields["ca"], timeout=30)
        assert len(px.cluster.resources.get(type="vm")) == 1000
        for node in px.nodes.get():
            status = px.nodes(node["node"]).status.get()
            guests = px.nodes(node["node"]).qemu.get() + px.nodes(node["node"]).lxc.get()
            running = sum(int(g["maxmem"]) for g in guests if g["status"] == "running")
            assert running <= 0.75 * status["memory"]["total"], (node["node"], running, status["memory"])
            assert 0 < status["memory"]["available"] <= status["memory"]["total"]
        vmid = int(px.cluster.nextid.get())
        wait_task(px, "pve1", px.nodes("pve1").qemu.post(vmid=vmid, memory=1024, scsi0="local-lvm:8"))
        started = wait_task(px, "pve1", px.nodes("pve1").qemu(vmid).status.start.post())
        assert started["exitstatus"] == "OK", started
        assert px.nodes("pve1").qemu(vmid).status.current.get()["status"] == "running"
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0


def test_vmid_is_unique_across_the_cluster(pvesim_factory: Any) -> None:
    c = SimClient(pvesim_factory(nodes=2))
    c.data("POST", "/nodes/pve1/qemu", data={"vmid": 120})
    resp = c.request(
        "POST",
        "/nodes/pve2/lxc",
        data={"vmid": 120, "ostemplate": "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"},
    )
    assert resp.status_code == 500 and "already exists on node 'pve1'" in resp.reason
    resp = c.request("POST", "/nodes/pve1/qemu/120/clone", data={"newid": 120})
    assert resp.status_code == 500 and "already exists" in resp.reason
    assert c.data("GET", "/cluster/nextid") == "100"
    resp = c.request("GET", "/nodes/pve2/qemu/120/config")
    assert resp.status_code == 500 and "does not exist" in resp.reason


def test_delete_frees_volumes_and_detached_disks_become_unused(pvesim_factory: Any) -> None:
    c = SimClient(pvesim_factory(nodes=1))
    c.data("POST", "/nodes/pve1/qemu", data={"vmid": 130, "scsi0": "local-lvm:2", "scsi1": "local-lvm:3"})
    vols = {v["volid"] for v in c.data("GET", "/nodes/pve1/storage/local-lvm/content", params={"vmid": 130})}
    assert vols == {"local-lvm:vm-130-disk-0", "local-lvm:vm-130-disk-1"}
    c.data("PUT", "/nodes/pve1/qemu/130/config", data={"delete": "scsi1"})
    cfg = c.data("GET", "/nodes/pve1/qemu/130/config")
    assert cfg["unused0"] == "local-lvm:vm-130-disk-1" and "scsi1" not in cfg
    resp = c.request("DELETE", "/nodes/pve1/storage/local-lvm/content/local-lvm:vm-130-disk-0")
    assert resp.status_code == 500 and "still in use" in resp.reason
    c.data("DELETE", "/nodes/pve1/qemu/130", params={"purge": 1})
    assert c.data("GET", "/nodes/pve1/storage/local-lvm/content", params={"vmid": 130}) == []
    resp = c.request("GET", "/nodes/pve1/storage/local-lvm/content/local-lvm:vm-130-disk-0")
    assert resp.status_code == 500 and "does not exist" in resp.reason


def test_running_guest_cannot_be_deleted_and_digest_changes_every_write(pvesim_factory: Any) -> None:
    c = SimClient(pvesim_factory(nodes=1))
    c.data("POST", "/nodes/pve1/qemu", data={"vmid": 140, "start": 1})
    assert c.data("GET", "/nodes/pve1/qemu/140/status/current")["status"] == "running"
    resp = c.request("DELETE", "/nodes/pve1/qemu/140")
    assert resp.status_code == 500 and "is running" in resp.reason
    d1 = c.data("GET", "/nodes/pve1/qemu/140/config")["digest"]
    c.data("PUT", "/nodes/pve1/qemu/140/config", data={"cores": 1})
    d2 = c.data("GET", "/nodes/pve1/qemu/140/config")["digest"]
    c.data("PUT", "/nodes/pve1/qemu/140/config", data={"cores": 1})
    d3 = c.data("GET", "/nodes/pve1/qemu/140/config")["digest"]
    assert len({d1, d2, d3}) == 3
    upid = c.data("POST", "/nodes/pve1/qemu/140/config", data={"cores": 3, "digest": d3})
    assert _done(c, "pve1", upid)["exitstatus"] == "OK"
    assert c.data("GET", "/nodes/pve1/qemu/140/config")["cores"] == 3


def test_out_of_band_changes_via_state_and_admin_api(pvesim_factory: Any) -> None:
    sim = pvesim_factory(nodes=1, guests=6, seed=3)
    c = SimClient(sim)
    vms = {r["vmid"]: r for r in c.data("GET", "/cluster/resources", params={"type": "vm"})}
    running = [v for v, r in vms.items() if r["status"] == "running"]
    assert running
    vmid = running[0]
    sim.state.stop_guest(vmid)
    assert {r["vmid"]: r for r in c.data("GET", "/cluster/resources", params={"type": "vm"})}[vmid][
        "status"
    ] == "stopped"
    kind = vms[vmid]["type"]
    before = c.data("GET", f"/nodes/pve1/{kind}/{vmid}/config")
    new = c.data("PUT", f"/_sim/guests/{vmid}/config", json={"set": {"cores": 7}, "delete": ["onboot"]})
    after = c.data("GET", f"/nodes/pve1/{kind}/{vmid}/config")
    assert after["cores"] == 7 and after["digest"] == new["digest"] != before["digest"]
    c.data("POST", f"/_sim/guests/{vmid}/start")
    c.data("PUT", f"/_sim/guests/{vmid}/ip", json={"ip": "127.0.0.1"})
    if kind == "lxc":
        assert c.data("GET", f"/nodes/pve1/lxc/{vmid}/interfaces")[1]["inet"] == "127.0.0.1/24"
    other = next(v for v in vms if v != vmid)
    c.data("DELETE", f"/_sim/guests/{other}")
    assert other not in {r["vmid"] for r in c.data("GET", "/cluster/resources", params={"type": "vm"})}
    assert c.data("GET", "/nodes/pve1/storage/local-lvm/content", params={"vmid": other}) == []


def test_agent_interfaces_need_agent_and_pools(pvesim_factory: Any) -> None:
    c = SimClient(pvesim_factory(nodes=1))
    c.data("POST", "/nodes/pve1/qemu", data={"vmid": 150, "start": 1, "net0": "virtio,bridge=vmbr0"})
    resp = c.request("GET", "/nodes/pve1/qemu/150/agent/network-get-interfaces")
    assert resp.status_code == 500 and resp.reason == "QEMU guest agent is not running"
    c.data("PUT", "/nodes/pve1/qemu/150/config", data={"agent": "1"})
    result = c.data("GET", "/nodes/pve1/qemu/150/agent/network-get-interfaces")["result"]
    assert result[1]["ip-addresses"][0]["ip-address"] == "10.0.0.150"
    c.data("POST", "/pools", data={"poolid": "team", "comment": "t"})
    c.data("PUT", "/pools", data={"poolid": "team", "vms": "150"})
    assert c.data("GET", "/pools") == [{"poolid": "team", "comment": "t"}]
    detail = c.data("GET", "/pools", params={"poolid": "team"})
    assert [m["id"] for m in detail[0]["members"]] == ["qemu/150"]
    assert c.data("GET", "/pools/team")["members"][0]["vmid"] == 150
    assert c.request("DELETE", "/pools/team").status_code == 500
    c.data("PUT", "/pools/team", data={"vms": "150", "delete": 1})
    c.data("DELETE", "/pools/team")
    assert c.data("GET", "/pools") == []


def test_metrics_move_and_rrddata(pvesim_factory: Any) -> None:
    now = [1_700_000_000.0]
    sim = pvesim_factory(nodes=1, guests=4, clock=lambda: now[0])
    c = SimClient(sim)
    first = c.data("GET", "/nodes")[0]
    assert 0 < first["cpu"] < 1 and 0 < first["mem"] < first["maxmem"]
    assert c.data("GET", "/nodes")[0] == first
    now[0] += 600
    assert c.data("GET", "/nodes")[0]["cpu"] != first["cpu"]
    rows = c.data("GET", "/nodes/pve1/rrddata", params={"timeframe": "hour"})
    assert len(rows) == 70 and rows[1]["time"] - rows[0]["time"] == 60 and "memused" in rows[0]
    guest = c.data("GET", "/cluster/resources", params={"type": "vm"})[0]
    grows = c.data("GET", f"/nodes/pve1/{guest['type']}/{guest['vmid']}/rrddata", params={"timeframe": "day"})
    assert len(grows) == 70 and {"cpu", "mem", "netin", "diskwrite"} <= set(grows[0])


def test_ssh_keys_are_kept_url_encoded_as_sent_like_pve(pvesim_factory: Any) -> None:
    """PVE stores ``sshkeys`` exactly as the client URL-encoded it, trailing ``%0A`` included; trimming is
    the reading client's business (bpg's read-back trims, which is why our modules trim what they send)."""
    c = SimClient(pvesim_factory(nodes=1))
    sent = "ssh-ed25519%20AAAAC3NzaC1lZDI1NTE5AAAAIB3ZsqLq5ph1hvY5sjKOkR0u2lDSnSTrVdcI8rJ1YoS1%20me%40host%0A"
    c.data("POST", "/nodes/pve1/qemu", data={"vmid": 100, "sshkeys": sent, "ide2": "local-lvm:cloudinit"})
    assert c.data("GET", "/nodes/pve1/qemu/100/config")["sshkeys"] == sent
    c.data("PUT", "/nodes/pve1/qemu/100/config", data={"sshkeys": sent.removesuffix("%0A")})
    assert c.data("GET", "/nodes/pve1/qemu/100/config")["sshkeys"] == sent.removesuffix("%0A")
