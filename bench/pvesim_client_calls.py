"""Benchmark: how many HTTP calls real Proxmox VE clients make per operation, counted by the simulator.

Clients: proxmoxer (create/start/stop/delete of a VM and a container, polling each task until it stops),
community.proxmox's ``proxmox_kvm`` and ``proxmox`` (LXC) modules per state (one ``ansible-playbook`` run
each), and the ``community.proxmox.proxmox`` inventory plugin with and without ``want_facts`` for N guests.
These are the baselines the control plane's own drivers are compared with.

Loopback only; tasks finish on their first poll (``task_seconds=0``). Run:
``.venv/bin/python bench/pvesim_client_calls.py [N]`` (N guests for the inventory, default 20).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from proxmoxer import ProxmoxAPI

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controlplane.pvesim import SimConfig, Simulator
from tests.e2e.pvesim.test_community_proxmox_ansible import PYTHON, TEMPLATE, ansible_env, inventory_list, run

Row = tuple[str, str, int, str]


def _breakdown(counts: dict[tuple[str, str], int]) -> str:
    """``GET /version x6, POST /nodes/{node}/lxc x1, ...`` busiest first."""
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][1]))
    return ", ".join(f"{m} {p} x{n}" for (m, p), n in rows)


def _measure(sim: Simulator, client: str, operation: str, action: Callable[[], Any]) -> Row:
    sim.stats.reset()
    action()
    counts = sim.stats.reset()
    return client, operation, sum(counts.values()), _breakdown(counts)


def _wait(px: ProxmoxAPI, node: str, upid: str) -> None:
    deadline = time.monotonic() + 30
    while px.nodes(node).tasks(upid).status.get()["status"] != "stopped":
        if time.monotonic() > deadline:
            raise RuntimeError(f"task {upid} did not finish")


def proxmoxer_rows(sim: Simulator) -> list[Row]:
    """Create/start/stop/delete a VM and a container with proxmoxer (token auth)."""
    px = ProxmoxAPI(
        "127.0.0.1",
        port=sim.port,
        user="root@pam",
        token_name=sim.token_name,
        token_value=sim.token_secret,
        verify_ssl=sim.ca_file,
    )
    node = px.nodes("pve1")
    vm = {
        "vmid": 900,
        "name": "b-vm",
        "memory": "1024",
        "cores": 1,
        "scsi0": "local-lvm:4",
        "net0": "virtio,bridge=vmbr0",
    }
    ct = {"vmid": 901, "hostname": "b-ct", "ostemplate": TEMPLATE, "memory": 512, "rootfs": "local-lvm:4"}
    ops: list[tuple[str, Callable[[], Any]]] = [
        ("VM create", lambda: _wait(px, "pve1", node.qemu.create(**vm))),
        ("VM start", lambda: _wait(px, "pve1", node.qemu(900).status.start.post())),
        ("VM stop", lambda: _wait(px, "pve1", node.qemu(900).status.stop.post())),
        ("VM delete", lambda: _wait(px, "pve1", node.qemu(900).delete(purge=1))),
        ("CT create", lambda: _wait(px, "pve1", node.lxc.create(**ct))),
        ("CT start", lambda: _wait(px, "pve1", node.lxc(901).status.start.post())),
        ("CT stop", lambda: _wait(px, "pve1", node.lxc(901).status.stop.post())),
        ("CT delete", lambda: _wait(px, "pve1", node.lxc(901).delete(purge=1))),
    ]
    return [_measure(sim, "proxmoxer", name, fn) for name, fn in ops]


def _play(tmp: Path, module: str, args: dict[str, Any]) -> Path:
    play = [
        {
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": {"ansible_python_interpreter": PYTHON},
            "tasks": [{"name": "step", module: args}],
        }
    ]
    path = tmp / "step.yml"
    path.write_text(yaml.safe_dump(play, sort_keys=False))
    return path


def module_rows(sim: Simulator, tmp: Path) -> list[Row]:
    """community.proxmox ``proxmox_kvm`` and ``proxmox`` per state, one playbook run per state."""
    env = ansible_env(sim, tmp)
    kvm = {"node": "pve1", "vmid": 910, "name": "a-vm", "cores": 1, "memory": 1024, "scsi": {"scsi0": "local-lvm:4"}}
    lxc = {
        "node": "pve1",
        "vmid": 911,
        "hostname": "a-ct",
        "ostemplate": TEMPLATE,
        "memory": 512,
        "disk": "local-lvm:4",
    }
    rows: list[Row] = []
    for module, short, args in (
        ("community.proxmox.proxmox_kvm", "proxmox_kvm", kvm),
        ("community.proxmox.proxmox", "proxmox (LXC)", lxc),
    ):
        for state, label in (
            ("present", "present (new)"),
            ("present", "present (exists)"),
            ("started", "started"),
            ("stopped", "stopped"),
            ("absent", "absent"),
        ):
            book = _play(tmp, module, {**args, "state": state})
            rows.append(
                _measure(
                    sim, short, label, lambda b=book: run(["ansible-playbook", "-i", "localhost,", str(b)], env, tmp)
                )
            )
    return rows


def inventory_rows(sim: Simulator, tmp: Path, guests: int) -> list[Row]:
    """The inventory plugin over ``guests`` seeded guests, without and with ``want_facts``."""
    return [
        _measure(sim, "inventory", f"list, {guests} guests", lambda: inventory_list(sim, tmp, want_facts=False)),
        _measure(
            sim, "inventory", f"list + want_facts, {guests} guests", lambda: inventory_list(sim, tmp, want_facts=True)
        ),
    ]


def main() -> None:
    """Run every client against fresh simulators, print the table and a one-line summary."""
    guests = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        with Simulator(SimConfig(nodes=1, ca_dir=str(tmp / "ca1"))) as sim:
            rows = proxmoxer_rows(sim) + module_rows(sim, tmp)
        with Simulator(SimConfig(nodes=2, guests=guests, seed=5, ca_dir=str(tmp / "ca2"))) as sim:
            rows += inventory_rows(sim, tmp, guests)
    width = max(len(f"{c} {o}") for c, o, _, _ in rows)
    print(f"{'client / operation':<{width}}  calls  breakdown")
    for client, op, calls, breakdown in rows:
        print(f"{client + ' ' + op:<{width}}  {calls:>5}  {breakdown}")
    by = {(c, o): n for c, o, n, _ in rows}
    cycle = ("present (new)", "started", "stopped", "absent")
    vm = sum(by[("proxmoxer", f"VM {o}")] for o in ("create", "start", "stop", "delete"))
    kvm = sum(by[("proxmox_kvm", s)] for s in cycle)
    lxc = sum(by[("proxmox (LXC)", s)] for s in cycle)
    flat, facts = (n for (c, _), n in by.items() if c == "inventory")
    print(
        f"summary: VM create+start+stop+delete: proxmoxer {vm} calls, proxmox_kvm {kvm}; "
        f"CT life cycle with proxmox (LXC) {lxc}; inventory of {guests} guests {flat} flat, "
        f"{facts} with want_facts; {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
