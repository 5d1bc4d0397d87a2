"""Populate a fresh cluster: nodes ``pve1..pveN`` and a seeded, realistic mix of guests.

About 70 % qemu VMs and 30 % lxc containers named ``vm-0001`` / ``ct-0002``..., spread over the nodes;
about 5 % are templates, and of the rest about 60 % run. A node whose running guests would use more than
75 % of its memory is given more (in 64 GiB steps), so a seeded cluster of any size keeps at least 25 % of
every node's memory free for new guests, as a cluster sized by an operator would.
"""

from __future__ import annotations

import random
import uuid

from . import disks, power
from .model import Guest
from .state import ClusterState

HEADROOM = 0.25
MEMORY_STEP = 64 << 30


def build_nodes(state: ClusterState, count: int, memory_mib: int, cpus: int) -> None:
    """Add ``pve1..pve<count>``."""
    for i in range(1, count + 1):
        state.add_node(f"pve{i}", memory_mib << 20, cpus)


def seed_guests(state: ClusterState, count: int, seed: int, start_vmid: int = 100) -> None:
    """Add ``count`` guests deterministically from ``seed``."""
    rng = random.Random(seed)
    nodes = list(state.nodes.values())
    running_mem = {n.name: 0 for n in nodes}
    now = state.clock()
    with state.lock:
        for i in range(1, count + 1):
            vmid = start_vmid + i - 1
            node = nodes[rng.randrange(len(nodes))]
            kind = "qemu" if rng.random() < 0.7 else "lxc"
            mem = rng.choice((512, 1024, 1024, 2048, 2048, 4096))
            cores = rng.choice((1, 1, 2, 2, 4))
            disk_gib = rng.choice((4, 8, 16, 32))
            template = rng.random() < 0.05
            guest = Guest(vmid, kind, node.name, {})
            storage = "local-lvm"
            vol = state.alloc_volume(
                node.name, storage, vmid, disk_gib << 30, "images" if kind == "qemu" else "rootdir"
            )
            mac = disks.mac_for(seed, vmid, "net0")
            if kind == "qemu":
                guest.config.update(
                    {
                        "name": f"vm-{i:04d}",
                        "memory": str(mem),
                        "cores": cores,
                        "sockets": 1,
                        "cpu": "x86-64-v2-AES",
                        "ostype": "l26",
                        "scsihw": "virtio-scsi-single",
                        "boot": "order=scsi0;net0",
                        "onboot": 0,
                        "scsi0": f"{vol.volid},iothread=1,size={disk_gib}G",
                        "net0": f"virtio={mac},bridge=vmbr0",
                        "agent": "1" if rng.random() < 0.5 else "0",
                        "smbios1": f"uuid={uuid.UUID(int=(seed << 64) + vmid)}",
                        "vmgenid": str(uuid.UUID(int=(seed << 80) + vmid)),
                        "meta": f"creation-qemu=9.2.0,ctime={int(now)}",
                    }
                )
            else:
                guest.config.update(
                    {
                        "hostname": f"ct-{i:04d}",
                        "memory": mem,
                        "swap": 512,
                        "cores": cores,
                        "arch": "amd64",
                        "ostype": "debian",
                        "unprivileged": 1,
                        "rootfs": f"{vol.volid},size={disk_gib}G",
                        "net0": f"name=eth0,bridge=vmbr0,hwaddr={mac},ip=dhcp,type=veth",
                    }
                )
            if template:
                guest.config["template"] = 1
            elif rng.random() < 0.6:
                running_mem[node.name] += mem << 20
                guest.status, guest.started_at = "running", now - rng.randrange(60, 30 * 86400)
                guest.pid = 1000 + vmid % 60000
            state.guests[vmid] = guest
        for node in nodes:
            if running_mem[node.name] + power.HOST_RESERVED > (1 - HEADROOM) * node.maxmem:
                node.maxmem = _memory_with_headroom(running_mem[node.name])
        state.changed()


def _memory_with_headroom(running: int) -> int:
    """The smallest multiple of 64 GiB that holds ``running`` bytes of guests and the host with 25 % free."""
    need = (running + power.HOST_RESERVED) / (1 - HEADROOM)
    return -(-int(need) // MEMORY_STEP) * MEMORY_STEP
