"""Benchmark: ``GET /cluster/resources`` on a 10,000-guest / 10-node simulator, and a mixed read load,
each compared with ``GET /version`` (the trivial-handler baseline) measured in the same run.

Loopback only; bounded by request count and wall time. Run: ``.venv/bin/python bench/pvesim_cluster_resources.py``.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controlplane.pvesim import SimConfig, Simulator

SAMPLES = 30
MIXED = 300
TIME_LIMIT = 60.0


def _median_seconds(session: requests.Session, url: str, headers: dict[str, str], ca: str, n: int) -> float:
    times = []
    deadline = time.monotonic() + TIME_LIMIT / 4
    for _ in range(n):
        start = time.perf_counter()
        resp = session.get(url, headers=headers, verify=ca, timeout=60)
        resp.raise_for_status()
        resp.json()
        times.append(time.perf_counter() - start)
        if time.monotonic() > deadline:
            break
    return statistics.median(times)


def main() -> None:
    """Start the simulator, measure, print figures and a one-line summary."""
    with Simulator(SimConfig(nodes=10, guests=10_000, seed=1, metrics_interval=10.0)) as sim:
        s = requests.Session()
        h = {"Authorization": sim.auth_header}
        api, ca = sim.api_url, sim.ca_file
        base = _median_seconds(s, api + "/version", h, ca, SAMPLES)
        res = _median_seconds(s, api + "/cluster/resources", h, ca, SAMPLES)
        vms = _median_seconds(s, api + "/cluster/resources?type=vm", h, ca, SAMPLES)
        guests = [r for r in s.get(api + "/cluster/resources?type=vm", headers=h, verify=ca).json()["data"]][:50]
        paths = ["/version", "/nodes", "/cluster/resources?type=vm"]
        for g in guests:
            paths += [
                f"/nodes/{g['node']}/{g['type']}/{g['vmid']}/status/current",
                f"/nodes/{g['node']}/{g['type']}/{g['vmid']}/config",
            ]
        done, start = 0, time.perf_counter()
        while done < MIXED and time.perf_counter() - start < TIME_LIMIT / 2:
            s.get(api + paths[done % len(paths)], headers=h, verify=ca, timeout=60).raise_for_status()
            done += 1
        mixed_rps = done / (time.perf_counter() - start)
        base_rps = 1 / base
        print(f"baseline GET /version median:            {base * 1000:8.2f} ms  ({base_rps:7.1f} req/s)")
        print(f"GET /cluster/resources (10k+30) median:  {res * 1000:8.2f} ms  ratio {res / base:6.1f}x baseline")
        print(f"GET /cluster/resources?type=vm median:   {vms * 1000:8.2f} ms  ratio {vms / base:6.1f}x baseline")
        print(
            f"mixed read load:                         {mixed_rps:8.1f} req/s ({done} requests), "
            f"ratio {mixed_rps / base_rps:5.2f} of baseline req/s"
        )
        print(
            f"SUMMARY pvesim 10k guests: /cluster/resources {res * 1000:.1f} ms median "
            f"({res / base:.1f}x /version), mixed reads {mixed_rps:.0f} req/s ({mixed_rps / base_rps:.2f}x)"
        )


if __name__ == "__main__":
    main()
