"""Plausible, moving, deterministic usage figures (CPU, memory, network, disk I/O) and rrddata series.

Every figure is a function of (seed, object key, time bucket): a slow sine wave with a per-object phase
plus a little per-bucket noise, so values move over time yet repeat exactly for the same inputs.
"""

from __future__ import annotations

import math
import zlib
from typing import Any

from .model import Guest, Node

# timeframe -> seconds between points (PVE returns about 70 points per timeframe)
RRD_STEP = {"hour": 60, "day": 1800, "week": 10800, "month": 43200, "year": 604800, "decade": 6048000}
RRD_POINTS = 70


def _unit(seed: int, key: str, salt: str = "") -> float:
    return (zlib.crc32(f"{seed}:{key}:{salt}".encode()) & 0xFFFFFF) / 0xFFFFFF


def level(seed: int, key: str, t: float, lo: float, hi: float, period: float = 3600.0, interval: float = 10.0) -> float:
    """A value in [lo, hi] for object ``key`` at time ``t``, constant within one ``interval`` bucket."""
    bucket = int(t // interval) if interval > 0 else int(t)
    phase = _unit(seed, key, "phase") * 2 * math.pi
    base = 0.5 + 0.4 * math.sin(2 * math.pi * bucket * interval / period + phase)
    noise = (_unit(seed, key, str(bucket)) - 0.5) * 0.2
    return lo + (hi - lo) * min(1.0, max(0.0, base + noise))


def guest_usage(seed: int, guest: Guest, t: float, interval: float = 10.0) -> dict[str, Any]:
    """cpu/mem/disk/net figures of a guest at time ``t`` (zeros when stopped)."""
    key = f"g{guest.vmid}"
    if guest.status != "running":
        return {
            "cpu": 0,
            "mem": 0,
            "netin": 0,
            "netout": 0,
            "diskread": 0,
            "diskwrite": 0,
            "disk": 0,
            "uptime": 0,
        }
    busy = _unit(seed, key, "busy")
    uptime = int(t - (guest.started_at or t))
    scale = max(uptime, 1)
    return {
        "cpu": round(level(seed, key + "c", t, 0.005, 0.05 + 0.6 * busy, interval=interval), 6),
        "mem": int(guest.maxmem * level(seed, key + "m", t, 0.25, 0.85, 7200, interval)),
        "netin": int(scale * 1200 * (0.5 + busy)),
        "netout": int(scale * 800 * (0.5 + busy)),
        "diskread": int(scale * 4096 * (0.2 + busy)),
        "diskwrite": int(scale * 2048 * (0.2 + busy)),
        "disk": 0,
        "uptime": uptime,
    }


def node_usage(
    seed: int, node: Node, guest_mem: int, guest_cpu: float, t: float, interval: float = 10.0
) -> dict[str, Any]:
    """cpu/mem figures of a node given the summed usage of its running guests."""
    if not node.online:
        return {"cpu": 0, "mem": 0, "uptime": 0}
    key = f"n{node.name}"
    host_mem = int((1 << 30) * level(seed, key + "m", t, 1.5, 2.5, interval=interval))
    cpu = min(1.0, level(seed, key + "c", t, 0.01, 0.04, interval=interval) + guest_cpu / max(node.maxcpu, 1))
    return {
        "cpu": round(cpu, 6),
        "mem": min(node.maxmem, host_mem + guest_mem),
        "uptime": int(t - node.boot_time),
    }


def rrd_series(
    seed: int,
    key: str,
    timeframe: str,
    now: float,
    maxmem: int,
    maxcpu: int,
    maxdisk: int,
    node: bool = False,
) -> list[dict[str, Any]]:
    """``rrddata`` rows (oldest first) for the object ``key`` over ``timeframe``."""
    step = RRD_STEP[timeframe]
    end = int(now // step) * step
    rows = []
    for i in range(RRD_POINTS - 1, -1, -1):
        t = end - i * step
        row: dict[str, Any] = {
            "time": t,
            "cpu": round(level(seed, key + "c", t, 0.01, 0.6, interval=step), 6),
            "maxcpu": maxcpu,
            "netin": round(level(seed, key + "i", t, 1e3, 5e5, interval=step), 2),
            "netout": round(level(seed, key + "o", t, 1e3, 3e5, interval=step), 2),
        }
        mem = round(maxmem * level(seed, key + "m", t, 0.2, 0.8, 7200, step), 2)
        if node:
            row.update(
                {
                    "memused": mem,
                    "memtotal": maxmem,
                    "loadavg": round(row["cpu"] * maxcpu, 2),
                    "iowait": round(level(seed, key + "w", t, 0, 0.02, interval=step), 6),
                    "rootused": round(maxdisk * 0.3, 2),
                    "roottotal": maxdisk,
                    "swapused": 0,
                    "swaptotal": 8 << 30,
                }
            )
        else:
            row.update(
                {
                    "mem": mem,
                    "maxmem": maxmem,
                    "disk": 0,
                    "maxdisk": maxdisk,
                    "diskread": round(level(seed, key + "r", t, 0, 2e6, interval=step), 2),
                    "diskwrite": round(level(seed, key + "x", t, 0, 1e6, interval=step), 2),
                }
            )
        rows.append(row)
    return rows
