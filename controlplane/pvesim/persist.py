"""Save the cluster state to a JSON file (atomically) and load it back."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .model import Guest, Node, Pool, Volume
from .state import ClusterState

FORMAT = 1


def dump(state: ClusterState) -> dict[str, Any]:
    """A JSON-able snapshot of ``state`` (taken under its lock)."""
    with state.lock:
        return {
            "format": FORMAT,
            "nodes": [
                {
                    "name": n.name,
                    "index": n.index,
                    "maxmem": n.maxmem,
                    "maxcpu": n.maxcpu,
                    "online": n.online,
                    "boot_time": n.boot_time,
                }
                for n in state.nodes.values()
            ],
            "guests": [
                {
                    "vmid": g.vmid,
                    "kind": g.kind,
                    "node": g.node,
                    "config": g.config,
                    "status": g.status,
                    "paused": g.paused,
                    "started_at": g.started_at,
                    "pid": g.pid,
                    "ip": g.ip,
                    "snapshots": g.snapshots,
                    "generation": g.generation,
                }
                for g in state.guests.values()
            ],
            "volumes": [
                {
                    "volid": v.volid,
                    "node": v.node,
                    "storage": v.storage,
                    "size": v.size,
                    "format": v.format,
                    "content": v.content,
                    "vmid": v.vmid,
                    "ctime": v.ctime,
                }
                for v in state.volumes.values()
            ],
            "pools": [
                {"poolid": p.poolid, "comment": p.comment, "vms": sorted(p.vms), "storage": sorted(p.storage)}
                for p in state.pools.values()
            ],
        }


def save(state: ClusterState, path: str | os.PathLike[str]) -> None:
    """Write the state to ``path`` atomically (temp file in the same directory, then rename)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(dump(state), separators=(",", ":"))
    fd, tmp = tempfile.mkstemp(prefix=".pvesim-", dir=target.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(state: ClusterState, path: str | os.PathLike[str]) -> None:
    """Replace the contents of ``state`` with what ``path`` holds."""
    data = json.loads(Path(path).read_text())
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: unsupported state format {data.get('format')!r}")
    with state.lock:
        state.nodes = {n["name"]: Node(**n) for n in data["nodes"]}
        state.guests = {}
        for g in data["guests"]:
            guest = Guest(**g)
            state.guests[guest.vmid] = guest
        state.volumes = {(v["node"], v["volid"]): Volume(**v) for v in data["volumes"]}
        state.pools = {
            p["poolid"]: Pool(p["poolid"], p["comment"], set(p["vms"]), set(p["storage"])) for p in data["pools"]
        }
        state.changed()
