"""Fault injection (seeded error rates, offline node, task errors, dropped connections, latency),
the state file, and a 10,000-guest /cluster/resources."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from controlplane.util.net import wait_for
from tests.fixtures.pvesim import SimClient


def _statuses(sim: Any, n: int = 40) -> list[int]:
    c = SimClient(sim)
    return [c.request("GET", "/version").status_code for _ in range(n)]


def test_seeded_error_rates_are_reproducible(pvesim_factory: Any) -> None:
    spec = "error,path=/version,rate=0.5,status=503,message=maintenance"
    a = _statuses(pvesim_factory(nodes=1, seed=11, faults=[spec]))
    b = _statuses(pvesim_factory(nodes=1, seed=11, faults=[spec]))
    other = _statuses(pvesim_factory(nodes=1, seed=12, faults=[spec]))
    assert a == b and set(a) == {200, 503} and a != other
    sim = pvesim_factory(nodes=1, seed=11)
    c = SimClient(sim)
    c.data("POST", "/_sim/faults", json={"spec": spec})
    assert _statuses(sim) == a
    resp = c.request("GET", "/version")
    while resp.status_code == 200:
        resp = c.request("GET", "/version")
    assert resp.reason == "maintenance" and resp.json() == {"data": None}
    c.request("DELETE", "/_sim/faults")
    assert set(_statuses(sim, 10)) == {200}


def test_offline_node_answers_595(pvesim_factory: Any) -> None:
    sim = pvesim_factory(nodes=2, guests=8, faults=["offline,node=pve2"])
    c = SimClient(sim)
    nodes = {n["node"]: n["status"] for n in c.data("GET", "/nodes")}
    assert nodes == {"pve1": "online", "pve2": "offline"}
    res = c.data("GET", "/cluster/resources")
    assert next(r for r in res if r["id"] == "node/pve2")["status"] == "offline"
    assert {r["status"] for r in res if r.get("node") == "pve2" and r["type"] in ("qemu", "lxc")} == {"unknown"}
    resp = c.request("GET", "/nodes/pve2/qemu")
    assert resp.status_code == 595 and resp.reason == "No route to host"
    c.data("POST", "/_sim/nodes/pve2/online")
    assert c.request("GET", "/nodes/pve2/qemu").status_code == 200
    sim.state.set_node_online("pve1", False)
    assert c.request("GET", "/nodes/pve1/status").status_code == 595


def test_task_error_and_latency(pvesim_factory: Any) -> None:
    sim = pvesim_factory(
        nodes=1,
        faults=[
            "task-error,type=qmstart,message=start failed: boom",
            "latency,path=/nodes/*/qemu,method=GET,seconds=0.3",
        ],
    )
    c = SimClient(sim)
    c.data("POST", "/nodes/pve1/qemu", data={"vmid": 100})
    upid = c.data("POST", "/nodes/pve1/qemu/100/status/start")
    assert c.data("GET", f"/nodes/pve1/tasks/{upid}/status")["exitstatus"] == "start failed: boom"
    assert c.data("GET", "/nodes/pve1/qemu/100/status/current")["status"] == "stopped"
    started = time.monotonic()
    c.data("GET", "/nodes/pve1/qemu")
    assert time.monotonic() - started >= 0.3
    assert [r["kind"] for r in c.data("GET", "/_sim/faults")] == ["task-error", "latency"]


def test_dropped_connection(pvesim_factory: Any) -> None:
    sim = pvesim_factory(nodes=1, faults=["drop,path=/cluster/resources,count=1"])
    c = SimClient(sim)
    with pytest.raises(requests.exceptions.ConnectionError):
        c.request("GET", "/cluster/resources")
    assert c.request("GET", "/cluster/resources").status_code == 200


def test_state_file_save_and_load(pvesim_factory: Any, tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    sim = pvesim_factory(nodes=2, guests=5, state_file=str(path))
    c = SimClient(sim)
    c.data("POST", "/nodes/pve2/qemu", data={"vmid": 700, "name": "kept", "scsi0": "local-lvm:2"})
    c.data("POST", "/pools", data={"poolid": "keep"})
    wait_for(
        lambda: path.exists() and any(g["vmid"] == 700 for g in json.loads(path.read_text())["guests"]),
        timeout=60,
        what="state file written",
    )
    sim.stop()
    again = pvesim_factory(nodes=1, guests=0, state_file=str(path))
    c2 = SimClient(again)
    vms = {r["vmid"]: r for r in c2.data("GET", "/cluster/resources", params={"type": "vm"})}
    assert len(vms) == 6 and vms[700]["name"] == "kept" and vms[700]["node"] == "pve2"
    assert c2.data("GET", "/pools") == [{"poolid": "keep", "comment": ""}]
    assert c2.data("GET", "/nodes/pve2/storage/local-lvm/content", params={"vmid": 700})[0]["size"] == 2 << 30


def test_ten_thousand_guests(pvesim_factory: Any) -> None:
    sim = pvesim_factory(nodes=10, guests=10_000)
    c = SimClient(sim)
    vms = c.data("GET", "/cluster/resources", params={"type": "vm"})
    assert len(vms) == 10_000 and len({v["vmid"] for v in vms}) == 10_000
    assert {v["node"] for v in vms} == {f"pve{i}" for i in range(1, 11)}
    kinds = {v["type"] for v in vms}
    assert kinds == {"qemu", "lxc"} and any(v["template"] for v in vms)
    assert {"running", "stopped"} <= {v["status"] for v in vms}
    assert len(c.data("GET", "/cluster/resources")) == 10_000 + 10 + 20
    assert vms[0]["name"] in ("vm-0001", "ct-0001")


def test_cli_subprocess(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "controlplane.pvesim",
            "--port",
            "0",
            "--nodes",
            "2",
            "--guests",
            "3",
            "--token",
            "root@pam!ci=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            "--ca-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("pvesim ready"), line
        fields = dict(part.split("=", 1) for part in line.split()[2:])
        resp = requests.get(
            fields["api"] + "/nodes",
            verify=fields["ca"],
            timeout=10,
            headers={"Authorization": "PVEAPIToken=root@pam!ci=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"},
        )
        assert [n["node"] for n in resp.json()["data"]] == ["pve1", "pve2"]
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0
