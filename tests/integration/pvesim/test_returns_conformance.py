"""Proof against the official schema's ``returns``: a tour calls every served route successfully, the way
clients do, and each response's ``data`` is checked against what apischema.json says that endpoint returns.

The route a request reached is read from the simulator's request counters, so a tour step that silently
hit another route cannot pass for the one it claims.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from controlplane.pvesim import SimConfig, Simulator
from controlplane.pvesim.returns import check_returns
from controlplane.pvesim.routes import all_routes
from controlplane.pvesim.schema import load_schema
from controlplane.util.net import wait_for
from tests.fixtures.pvesim import SimClient

TEMPLATE = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
ROUTES = sorted({(r.method, r.template) for r in all_routes()})
Responses = dict[tuple[str, str], list[Any]]
# Where real PVE itself answers otherwise than its schema says, the simulator answers like PVE.
REAL_PVE_DIFFERS = {
    # PVE prints the next id as a JSON string ("100"); bpg and proxmoxer read either.
    ("GET", "/cluster/nextid"): re.compile(r"data: expected integer, got str '\d+'"),
}


class Tour:
    """Calls the simulator and files each successful response under the route template it reached."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.client = SimClient(sim)
        self.responses: Responses = {}

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        self.sim.stats.reset()
        resp = self.client.request(method, path, **kwargs)
        assert resp.status_code == 200, (method, path, resp.status_code, resp.reason)
        (reached,) = self.sim.stats.snapshot()
        data = resp.json()["data"]
        self.responses.setdefault(reached, []).append(data)
        return data

    def task(self, node: str, upid: str) -> None:
        status = wait_for(
            lambda: (s := self.call("GET", f"/nodes/{node}/tasks/{upid}/status"))["status"] == "stopped" and s,
            timeout=10, interval=0.02, what=upid,
        )
        assert status["exitstatus"] == "OK", status
        self.call("GET", f"/nodes/{node}/tasks/{upid}/log")


def _guest_tour(t: Tour, kind: str, vmid: int) -> None:
    base = f"/nodes/pve1/{kind}"
    one = f"{base}/{vmid}"
    body = ({"vmid": vmid, "name": "tour-vm", "memory": "512", "scsi0": "local-lvm:2", "agent": "1",
             "net0": "virtio,bridge=vmbr0"} if kind == "qemu" else
            {"vmid": vmid, "ostemplate": TEMPLATE, "hostname": "tour-ct", "rootfs": "local-lvm:2",
             "net0": "name=eth0,bridge=vmbr0,ip=dhcp"})
    t.task("pve1", t.call("POST", base, data=body))
    t.call("GET", base)
    t.call("GET", one)
    t.call("GET", f"{one}/config")
    t.call("PUT", f"{one}/config", data={"cores": 2})
    if kind == "qemu":
        t.task("pve1", t.call("POST", f"{one}/config", data={"cores": 1}))
    t.call("GET", f"{one}/pending")
    t.call("GET", f"{one}/status/current")
    t.task("pve1", t.call("POST", f"{one}/status/start"))
    t.call("GET", f"{one}/status/current")
    if kind == "qemu":
        t.call("GET", f"{one}/agent/network-get-interfaces")
        t.task("pve1", t.call("POST", f"{one}/status/reset"))
    else:
        t.call("GET", f"{one}/interfaces")
    t.task("pve1", t.call("POST", f"{one}/status/reboot"))
    t.task("pve1", t.call("POST", f"{one}/status/suspend"))
    t.task("pve1", t.call("POST", f"{one}/status/resume"))
    t.task("pve1", t.call("POST", f"{one}/status/shutdown"))
    t.task("pve1", t.call("POST", f"{one}/status/start"))
    t.task("pve1", t.call("POST", f"{one}/status/stop"))
    disk = "scsi0" if kind == "qemu" else "rootfs"
    t.task("pve1", t.call("PUT", f"{one}/resize", data={"disk": disk, "size": "+1G"}))
    t.task("pve1", t.call("POST", f"{one}/snapshot", data={"snapname": "first"}))
    t.call("GET", f"{one}/snapshot")
    t.call("GET", f"{one}/rrddata", params={"timeframe": "hour"})
    clone_body = {"newid": vmid + 1, **({"name": "tour-clone"} if kind == "qemu" else {"hostname": "tour-clone"})}
    t.task("pve1", t.call("POST", f"{one}/clone", data=clone_body))
    upid = t.call("POST", f"{base}/{vmid + 1}/template")
    if upid:
        t.task("pve1", upid)
    t.task("pve1", t.call("DELETE", f"{base}/{vmid + 1}", params={"purge": 1}))
    t.task("pve1", t.call("DELETE", one, params={"purge": 1}))


def _cluster_tour(t: Tour) -> None:
    t.call("GET", "/version")
    ticket = t.call("POST", "/access/ticket", data={"username": "root@pam", "password": t.sim.password})
    assert ticket["username"] == "root@pam"
    t.call("GET", "/access/ticket")
    t.call("GET", "/cluster/status")
    t.call("GET", "/cluster/resources")
    t.call("GET", "/cluster/resources", params={"type": "vm"})
    t.call("GET", "/cluster/nextid")
    t.call("GET", "/nodes")
    t.call("GET", "/nodes/pve1/status")
    t.call("GET", "/nodes/pve1/network")
    t.call("GET", "/nodes/pve1/rrddata", params={"timeframe": "hour"})
    t.call("GET", "/storage")
    t.call("GET", "/nodes/pve1/storage")
    volumes = t.call("GET", "/nodes/pve1/storage/local-lvm/content")
    t.call("GET", f"/nodes/pve1/storage/local-lvm/content/{volumes[0]['volid']}")
    t.call("GET", "/nodes/pve1/tasks")


def _storage_and_pool_tour(t: Tour) -> None:
    disks = {"vmid": 900, "scsi0": "local-lvm:1", "scsi1": "local-lvm:1"}
    t.task("pve1", t.call("POST", "/nodes/pve1/qemu", data=disks))
    t.call("PUT", "/nodes/pve1/qemu/900/config", data={"delete": "scsi1"})
    t.call("DELETE", "/nodes/pve1/storage/local-lvm/content/local-lvm:vm-900-disk-1")
    t.call("POST", "/pools", data={"poolid": "tour", "comment": "a pool"})
    t.call("PUT", "/pools", data={"poolid": "tour", "vms": "900"})
    t.call("PUT", "/pools/tour", data={"comment": "renamed"})
    t.call("GET", "/pools")
    t.call("GET", "/pools", params={"poolid": "tour"})
    t.call("GET", "/pools/tour")
    t.call("PUT", "/pools", data={"poolid": "tour", "vms": "900", "delete": 1})
    t.call("DELETE", "/pools/tour")
    t.call("POST", "/pools", data={"poolid": "tour2"})
    t.call("DELETE", "/pools", params={"poolid": "tour2"})


@pytest.fixture(scope="module")
def responses() -> Iterator[Responses]:
    """Every served route called at least once on a seeded cluster, with its responses."""
    with Simulator(SimConfig(nodes=2, guests=20, seed=3)) as sim:
        tour = Tour(sim)
        _cluster_tour(tour)
        _guest_tour(tour, "qemu", 800)
        _guest_tour(tour, "lxc", 810)
        _storage_and_pool_tour(tour)
        yield tour.responses


def test_the_tour_reaches_every_route(responses: Responses) -> None:
    assert sorted(set(ROUTES) - set(responses)) == []


@pytest.mark.parametrize(("method", "template"), ROUTES, ids=[f"{m} {t}" for m, t in ROUTES])
def test_responses_match_the_schema_returns(responses: Responses, method: str, template: str) -> None:
    endpoint = load_schema().endpoint(method, template)
    assert endpoint is not None
    spec = endpoint.info.get("returns")
    assert spec, f"the schema in use has no returns for {method} {template}"
    problems = [p for data in responses.get((method, template), []) for p in check_returns(spec, data)]
    known = REAL_PVE_DIFFERS.get((method, template))
    if known is not None:
        assert problems and all(known.fullmatch(p) for p in problems), problems
        return
    assert problems == [], "\n".join(problems[:20])


def test_the_checker_finds_differences() -> None:
    spec = {"type": "object", "properties": {
        "memory": {"type": "object", "properties": {"available": {"type": "integer"}, "total": {"type": "integer"}}},
        "status": {"type": "string", "enum": ["running", "stopped"]},
        "net[n]": {"type": "string", "optional": 1},
    }}
    good = {"memory": {"available": 1, "total": 2}, "status": "running", "net0": "virtio"}
    assert check_returns(spec, good) == []
    bad = {"memory": {"total": "2"}, "status": "paused", "net0": 5}
    assert sorted(check_returns(spec, bad)) == [
        "data.memory.available: missing (the schema does not mark it optional)",
        "data.memory.total: expected integer, got str '2'",
        "data.net0: expected string, got int 5",
        "data.status: 'paused' is not one of ['running', 'stopped']",
    ]
