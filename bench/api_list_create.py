"""Benchmark: the REST API's list (first 50 of 10,000 VMs) and create, with Row-Level Security on, against
the same endpoints with RLS disabled on every table (the baseline), measured in the same run.

Real PostgreSQL (pgserver), real OpenBao (``bao server -dev``), the Proxmox VE simulator registered as
cluster ``demo``, uvicorn on a free loopback port; requests from a few client threads as a project member
(the most filtered path). Prints requests per second, p50 and p99 latency, and the RLS/baseline ratios.

Run: ``.venv/bin/python bench/api_list_create.py [VMS] [REQUESTS]`` (defaults 10000 and 400).
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._support import seeded_api

THREADS = 8


def _rls(owner_url: str, enabled: bool) -> None:
    verb = "ENABLE" if enabled else "DISABLE"
    with psycopg.connect(owner_url, autocommit=True) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace "
            "AND EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = pg_class.oid)")]
        for table in tables:
            conn.execute(f"ALTER TABLE {table} {verb} ROW LEVEL SECURITY")


def _measure(url: str, token: str, n: int, request: Callable[[httpx.Client, int], httpx.Response],
             expect: int) -> tuple[float, float, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    local = threading.local()

    def one(i: int) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        start = time.perf_counter()
        resp = request(local.client, i)
        elapsed = time.perf_counter() - start
        if resp.status_code != expect:
            raise RuntimeError(f"{resp.status_code}: {resp.text[:200]}")
        with lock:
            latencies.append(elapsed)

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        list(pool.map(one, range(n)))
    wall = time.perf_counter() - began
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return n / wall, statistics.median(latencies) * 1000, p99 * 1000


def main(vms: int = 10_000, requests: int = 400) -> None:
    with seeded_api(vms, THREADS + 2) as api:
        def list_page(client: httpx.Client, _i: int) -> httpx.Response:
            return client.get("/api/v1/vms", params={"limit": 50, "project": "shop"})

        def create(prefix: str) -> Callable[[httpx.Client, int], httpx.Response]:
            def run(client: httpx.Client, i: int) -> httpx.Response:
                return client.post("/api/v1/vms", json={
                    "metadata": {"name": f"{prefix}-{i}", "project": "shop"},
                    "spec": {"cluster": "demo", "image": "debian-12", "cores": 1, "memory_mb": 512}})
            return run

        rows = []
        for label, enabled in (("baseline (RLS off)", False), ("RLS on", True), ("baseline again", False)):
            _rls(api.owner_url, enabled)
            _measure(api.url, api.member_token, 40, list_page, 200)  # warm up
            listed = _measure(api.url, api.member_token, requests, list_page, 200)
            created = _measure(api.url, api.member_token, requests // 2, create(f"{'rls' if enabled else 'b'}"
                               f"{len(rows)}"), 201)
            rows.append((label, listed, created))
        _rls(api.owner_url, True)
        print(f"API benchmark: {vms} VMs in one project, {requests} list / {requests // 2} create requests, "
              f"{THREADS} client threads, as a project member\n")
        print(f"{'run':<20} {'list rps':>9} {'p50 ms':>8} {'p99 ms':>8}   {'create rps':>10} {'p50 ms':>8} "
              f"{'p99 ms':>8}")
        for label, (lr, l50, l99), (cr, c50, c99) in rows:
            print(f"{label:<20} {lr:9.1f} {l50:8.1f} {l99:8.1f}   {cr:10.1f} {c50:8.1f} {c99:8.1f}")
        base_list = (rows[0][1][0] + rows[2][1][0]) / 2
        base_create = (rows[0][2][0] + rows[2][2][0]) / 2
        print(f"\nRLS overhead (throughput, RLS on / mean of baselines): list {rows[1][1][0] / base_list:.2f}x, "
              f"create {rows[1][2][0] / base_create:.2f}x")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
