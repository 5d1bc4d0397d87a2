"""The in-memory cluster model shared by the HTTP routes and by tests (thread-safe via one re-entrant lock).

Out-of-band changes for drift tests go through :class:`ClusterState` methods (``stop_guest``,
``delete_guest``, ``set_config``, ``set_guest_ip``, ``set_node_online``) so caches and digests stay right.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from .errors import NotFound, PveError
from .model import STORAGE_CONTENT, STORAGE_TYPES, TEMPLATES, Guest, Node, Pool, Volume


class ClusterState:
    """Nodes, guests, volumes and pools of one simulated cluster."""

    def __init__(self, seed: int = 1, clock: Callable[[], float] = time.time) -> None:
        self.seed = seed
        self.clock = clock
        self.lock = threading.RLock()
        self.nodes: dict[str, Node] = {}
        self.guests: dict[int, Guest] = {}
        self.volumes: dict[tuple[str, str], Volume] = {}
        self.pools: dict[str, Pool] = {}
        self.generation = 0
        self.listeners: list[Callable[[], None]] = []

    # -- bookkeeping -------------------------------------------------------------------------
    def changed(self, guest: Guest | None = None) -> None:
        """Mark the state modified (and ``guest``'s config written); notifies listeners."""
        self.generation += 1
        if guest is not None:
            guest.touch()
        for listener in self.listeners:
            listener()

    def add_node(self, name: str, maxmem: int, maxcpu: int) -> Node:
        """Add a node with the standard storages and template/ISO volumes."""
        with self.lock:
            node = Node(name, len(self.nodes) + 1, maxmem, maxcpu, boot_time=self.clock() - 86400 * 3)
            self.nodes[name] = node
            for volid, content, size in TEMPLATES:
                fmt = {"zst": "tzst", "xz": "txz", "gz": "tgz"}.get(volid.rsplit(".", 1)[-1], "iso")
                self.volumes[(name, volid)] = Volume(
                    volid, name, "local", size, fmt, content, ctime=int(node.boot_time)
                )
            self.changed()
            return node

    # -- lookups ------------------------------------------------------------------------------
    def node(self, name: str) -> Node:
        """The node called ``name`` (500 like PVE's hostname lookup failure if unknown)."""
        node = self.nodes.get(name)
        if node is None:
            raise PveError(
                500,
                f"hostname lookup '{name}' failed - failed to get address info for: {name}: Name or service not known",
            )
        return node

    def guest(self, vmid: int, kind: str | None = None, node: str | None = None) -> Guest:
        """The guest ``vmid`` of ``kind`` on ``node``; 500 "does not exist" as PVE answers otherwise."""
        guest = self.guests.get(int(vmid))
        if guest is None or (kind and guest.kind != kind) or (node and guest.node != node):
            where = node or (guest.node if guest else "localhost")
            conf = "qemu-server" if (kind or "qemu") == "qemu" else "lxc"
            raise NotFound(f"Configuration file 'nodes/{where}/{conf}/{vmid}.conf' does not exist")
        return guest

    def guests_on(self, node: str, kind: str | None = None) -> Iterator[Guest]:
        """Guests placed on ``node`` (optionally only qemu or lxc)."""
        for guest in self.guests.values():
            if guest.node == node and (kind is None or guest.kind == kind):
                yield guest

    def next_vmid(self, start: int = 100) -> int:
        """The lowest free vmid at or above ``start``."""
        vmid = start
        while vmid in self.guests:
            vmid += 1
        return vmid

    # -- volumes -----------------------------------------------------------------------------
    def storage_check(self, node: str, storage: str, content: str) -> None:
        """500 unless ``storage`` exists and accepts ``content`` (images, rootdir, ...)."""
        if storage not in STORAGE_TYPES:
            raise PveError(500, f"storage '{storage}' does not exist")
        if content not in STORAGE_CONTENT[storage]:
            raise PveError(500, f"storage '{storage}' does not support content-type '{content}'")

    def alloc_volume(
        self,
        node: str,
        storage: str,
        vmid: int,
        size: int,
        content: str,
        name: str | None = None,
        fmt: str = "raw",
    ) -> Volume:
        """Allocate the next free ``vm-<vmid>-disk-<n>`` volume (or ``name``) on ``storage``."""
        if name is None:
            n = 0
            while any((node, v) in self.volumes for v in self._volid_candidates(storage, vmid, n, fmt)):
                n += 1
            name = f"vm-{vmid}-disk-{n}"
        if STORAGE_TYPES.get(storage) == "dir":
            volid = f"{storage}:{vmid}/{name}.{fmt}"
        else:
            volid, fmt = f"{storage}:{name}", "raw"
        vol = Volume(
            volid,
            node,
            storage,
            size,
            fmt,
            "images" if content == "images" else content,
            vmid,
            int(self.clock()),
        )
        self.volumes[(node, volid)] = vol
        return vol

    @staticmethod
    def _volid_candidates(storage: str, vmid: int, n: int, fmt: str) -> list[str]:
        return [
            f"{storage}:vm-{vmid}-disk-{n}",
            f"{storage}:base-{vmid}-disk-{n}",
            f"{storage}:{vmid}/vm-{vmid}-disk-{n}.{fmt}",
        ]

    def volume(self, node: str, volid: str) -> Volume | None:
        """The volume ``volid`` on ``node`` if it exists."""
        return self.volumes.get((node, volid))

    def guest_volumes(self, node: str, vmid: int) -> list[str]:
        """Volume ids on ``node`` owned by guest ``vmid``."""
        return [v for (n, v), vol in self.volumes.items() if n == node and vol.vmid == vmid]

    def free_volumes(self, node: str, volids: list[str]) -> None:
        """Delete the given volumes from ``node``."""
        for volid in volids:
            self.volumes.pop((node, volid), None)

    # -- out-of-band changes (drift tests) -----------------------------------------------------
    def stop_guest(self, vmid: int) -> None:
        """Stop a guest behind the control plane's back."""
        with self.lock:
            guest = self.guest(vmid)
            guest.mark_stopped()
            self.changed()

    def start_guest(self, vmid: int) -> None:
        """Start a guest behind the control plane's back (no memory check)."""
        with self.lock:
            guest = self.guest(vmid)
            guest.mark_running(self.clock())
            self.changed()

    def delete_guest(self, vmid: int) -> None:
        """Remove a guest and its volumes behind the control plane's back."""
        with self.lock:
            guest = self.guest(vmid)
            self.free_volumes(guest.node, self.guest_volumes(guest.node, guest.vmid))
            del self.guests[guest.vmid]
            for pool in self.pools.values():
                pool.vms.discard(guest.vmid)
            self.changed()

    def set_config(self, vmid: int, changes: dict[str, Any] | None = None, delete: list[str] | None = None) -> str:
        """Change config keys of a guest directly; returns the new digest."""
        with self.lock:
            guest = self.guest(vmid)
            guest.config.update(changes or {})
            for key in delete or []:
                guest.config.pop(key, None)
            self.changed(guest)
            return guest.digest

    def set_guest_ip(self, vmid: int, ip: str | None) -> None:
        """Set the IPv4 address a running guest reports (None restores the vmid-derived default)."""
        with self.lock:
            self.guest(vmid).ip = ip
            self.changed()

    def guest_ip(self, guest: Guest) -> str:
        """The IPv4 address the guest reports: the override or ``10.<a>.<b>.<c>`` from its vmid."""
        if guest.ip:
            return guest.ip
        n = guest.vmid
        return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255 or 1}"

    def set_node_online(self, name: str, online: bool) -> None:
        """Take a node offline (its calls answer 595) or bring it back."""
        with self.lock:
            self.node(name).online = online
            self.changed()
