"""Plain data records of the simulated cluster: nodes, guests, volumes, pools and storage definitions."""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from . import propstring

# Storage definitions every node has: (id, type, content, capacity in bytes).
STORAGES: tuple[tuple[str, str, str, int], ...] = (
    ("local", "dir", "iso,vztmpl,backup,snippets,images,rootdir", 100 << 30),
    ("local-lvm", "lvmthin", "images,rootdir", 2 << 40),
)
STORAGE_TYPES = {s[0]: s[1] for s in STORAGES}
STORAGE_CONTENT = {s[0]: set(s[2].split(",")) for s in STORAGES}
STORAGE_SIZE = {s[0]: s[3] for s in STORAGES}
TEMPLATES = (
    ("local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", "vztmpl", 126_000_000),
    ("local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst", "vztmpl", 141_000_000),
    ("local:vztmpl/alpine-3.20-default_20240908_amd64.tar.xz", "vztmpl", 3_100_000),
    ("local:iso/debian-12.iso", "iso", 661_000_000),
    ("local:iso/ubuntu-24.04-live-server-amd64.iso", "iso", 2_700_000_000),
)


@dataclass
class Node:
    """A cluster node; ``online`` False makes it answer 595 and show as offline."""

    name: str
    index: int
    maxmem: int
    maxcpu: int
    online: bool = True
    boot_time: float = 0.0

    @property
    def ip(self) -> str:
        """The node's management address (a documentation-only range)."""
        return f"192.0.2.{10 + self.index}"


@dataclass
class Volume:
    """One storage volume (a disk image, container template or ISO) on one node."""

    volid: str
    node: str
    storage: str
    size: int
    format: str
    content: str
    vmid: int | None = None
    ctime: int = 0

    def entry(self) -> dict[str, Any]:
        """The ``/nodes/{node}/storage/{s}/content`` row for this volume."""
        out: dict[str, Any] = {
            "volid": self.volid,
            "content": self.content,
            "format": self.format,
            "size": self.size,
            "ctime": self.ctime,
        }
        if self.vmid is not None:
            out["vmid"] = self.vmid
            out["used"] = self.size // 10
        return out


@dataclass
class Pool:
    """A resource pool with guest members (by vmid) and storage members (by storage id)."""

    poolid: str
    comment: str = ""
    vms: set[int] = field(default_factory=set)
    storage: set[str] = field(default_factory=set)


@dataclass
class Guest:
    """A qemu VM or lxc container: its config (typed as PVE prints it) and runtime status."""

    vmid: int
    kind: str
    node: str
    config: dict[str, Any]
    status: str = "stopped"
    paused: bool = False
    lock: str | None = None
    busy: str | None = None
    started_at: float | None = None
    pid: int | None = None
    ip: str | None = None
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    generation: int = 0
    _digest: str | None = field(default=None, repr=False, compare=False)

    @property
    def label(self) -> str:
        """``VM`` or ``CT`` as PVE words lock messages."""
        return "VM" if self.kind == "qemu" else "CT"

    @property
    def name(self) -> str:
        """The display name (qemu ``name`` / lxc ``hostname``)."""
        if self.kind == "qemu":
            return str(self.config.get("name") or f"VM {self.vmid}")
        return str(self.config.get("hostname") or f"CT{self.vmid}")

    @property
    def template(self) -> int:
        """1 when the guest is a template."""
        return 1 if self.config.get("template") else 0

    @property
    def maxmem(self) -> int:
        """Configured memory in bytes."""
        raw = self.config.get("memory", 512)
        if isinstance(raw, str):
            raw = propstring.parse(raw, "current").get("current", "512")
        return int(raw) << 20

    @property
    def cpus(self) -> int:
        """Number of virtual CPUs."""
        if self.kind == "qemu" and self.config.get("vcpus"):
            return int(self.config["vcpus"])
        return int(self.config.get("cores", 1)) * int(self.config.get("sockets", 1) if self.kind == "qemu" else 1)

    @property
    def maxdisk(self) -> int:
        """Size of the boot disk in bytes (PVE reports the first disk / rootfs)."""
        for key, val in self.config.items():
            if isinstance(val, str) and "size=" in val and (key == "rootfs" or key[:4] in ("scsi", "virt", "sata")):
                size = propstring.parse(val, "file").get("size")
                if size:
                    return propstring.parse_size(size)
        return 0

    @property
    def digest(self) -> str:
        """SHA1 hex of the config and its write generation (changes on every write)."""
        if self._digest is None:
            text = json.dumps(self.config, sort_keys=True) + f"#{self.generation}"
            self._digest = hashlib.sha1(text.encode()).hexdigest()
        return self._digest

    def mark_running(self, started_at: float) -> None:
        """Record a start at ``started_at`` with a pid derived from it."""
        self.status, self.started_at = "running", started_at
        self.pid = 1000 + zlib.crc32(f"{self.vmid}:{started_at}".encode()) % 60000

    def mark_stopped(self) -> None:
        """Record a stop: no start time, pid or paused flag."""
        self.status, self.started_at, self.pid, self.paused = "stopped", None, None, False

    def touch(self) -> None:
        """Record a config write: bump the generation and invalidate the digest."""
        self.generation += 1
        self._digest = None
