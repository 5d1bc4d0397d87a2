"""Benchmark: the REST API's list (first 50 of 10,000 VMs) and create at a fixed request rate, with Row-Level
Security on, against the same endpoints with RLS disabled on every table (the baseline), and the list's
raw floor, all measured in the same run.

Real PostgreSQL (pgserver), real OpenBao (``bao server -dev``), the Proxmox VE simulator registered as
cluster ``demo``, uvicorn on a free loopback port; the load comes from a separate process
(``bench/_loadgen.py``, open loop: requests are sent on schedule whatever the latency, and each latency
counts from when the request was due) as a project member (the most filtered path).

The floor is the one SQL query the list needs, run by psycopg on one open connection and serialised to
JSON, sequentially in this process: what no implementation of the endpoint can beat.

``--profile N`` runs N list requests in this process's main thread (the ASGI app called directly, sync
handlers inline) under pyinstrument (``pip install pyinstrument``) and prints the profile instead.

Run: ``.venv/bin/python bench/api_list_create.py [--vms 10000] [--rate 200] [--duration 60]
[--create-rate 50] [--create-duration 30] [--profile N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._support import SeededApi, seeded_api

LOADGEN = Path(__file__).with_name("_loadgen.py")
LIST_PATH = "/api/v1/vms?limit=50&project=shop"
CREATE_BODY = json.dumps({"metadata": {"name": "PREFIX-{i}", "project": "shop"},
                          "spec": {"cluster": "demo", "image": "debian-12", "cores": 1, "memory_mb": 512}})
# What the list endpoint needs from PostgreSQL for a project member: one page of the project's guests the
# member may see, with the project's name, in name order.
FLOOR_SQL = """
SELECT g.*, p.name AS project_name
FROM virtual_machines g JOIN projects p ON p.id = g.project_id
WHERE (g.project_id IN (SELECT project_id FROM memberships WHERE user_id = %(user)s) OR g.assigned_user_id = %(user)s)
  AND g.deleted_at IS NULL AND p.name = 'shop'
ORDER BY g.name, g.id LIMIT 51
"""


def _rls(owner_url: str, enabled: bool) -> None:
    verb = "ENABLE" if enabled else "DISABLE"
    with psycopg.connect(owner_url, autocommit=True) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace "
            "AND EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = pg_class.oid)")]
        for table in tables:
            conn.execute(f"ALTER TABLE {table} {verb} ROW LEVEL SECURITY")


def _load(api: SeededApi, path: str, *, rate: float, duration: float, method: str = "GET",
          body: str | None = None, expect: int = 200) -> dict[str, Any]:
    """Run the load generator process against ``path``; its figures."""
    args = [sys.executable, str(LOADGEN), api.url + path, "--rate", str(rate), "--duration", str(duration),
            "--method", method, "--expect", str(expect)]
    if body is not None:
        args += ["--body", body]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=duration + 300,
                          env={**os.environ, "LOADGEN_TOKEN": api.member_token})
    if proc.returncode != 0:
        raise SystemExit(f"the load generator failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout)
    if result["errors"]:
        print(f"  note: {path} had errors {result['errors']}", file=sys.stderr)
    return result


def _member_id(api: SeededApi) -> str:
    with psycopg.connect(api.owner_url) as conn:
        return str(conn.execute("SELECT id FROM users WHERE email = %s", (api.member,)).fetchone()[0])


def _floor(api: SeededApi, n: int) -> tuple[float, float]:
    """p50 and p99 milliseconds of the list's one query plus JSON serialisation, run ``n`` times in a row."""
    user = _member_id(api)
    latencies = []
    with psycopg.connect(api.owner_url, autocommit=True) as conn, conn.cursor(row_factory=dict_row) as cur:
        for _ in range(n + 20):
            start = time.perf_counter()
            rows = cur.execute(FLOOR_SQL, {"user": user}).fetchall()
            body = json.dumps({"items": rows[:50], "next_cursor": "x"}, default=str)
            latencies.append(time.perf_counter() - start)
            assert len(rows) == 51 and body
    latencies = sorted(latencies[20:])
    return statistics.median(latencies) * 1000, latencies[int(len(latencies) * 0.99)] * 1000


def _profile(api: SeededApi, n: int) -> None:
    """Profile ``n`` list requests with pyinstrument, everything in this thread."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        raise SystemExit("--profile needs pyinstrument: .venv/bin/pip install pyinstrument") from None
    import fastapi.dependencies.utils
    import fastapi.routing
    import httpx

    async def inline(func: Any, *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    fastapi.routing.run_in_threadpool = inline  # type: ignore[assignment]
    fastapi.dependencies.utils.run_in_threadpool = inline  # type: ignore[attr-defined]

    async def requests(count: int) -> None:
        transport = httpx.ASGITransport(app=api.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1",
                                     headers={"Authorization": f"Bearer {api.member_token}"}) as client:
            for _ in range(count):
                resp = await client.get(LIST_PATH)
                assert resp.status_code == 200, resp.text

    asyncio.run(requests(20))
    profiler = Profiler(interval=0.0005, async_mode="disabled")
    start = time.perf_counter()
    profiler.start()
    asyncio.run(requests(n))
    profiler.stop()
    print(f"{n} list requests in process: {(time.perf_counter() - start) / n * 1000:.2f} ms each (profiled)")
    print(profiler.output_text(unicode=False, color=False, show_all=False))


def main() -> None:
    """Seed, then measure the floor and each run; print the table and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vms", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=200.0, help="list requests per second")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of list load per run")
    parser.add_argument("--create-rate", type=float, default=50.0)
    parser.add_argument("--create-duration", type=float, default=30.0)
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="profile N list requests instead")
    args = parser.parse_args()
    with seeded_api(args.vms, 20) as api:
        if args.profile:
            _profile(api, args.profile)
            return
        floor50, floor99 = _floor(api, 1000)  # never 0: a query takes time
        rows = []
        for label, enabled in (("baseline (RLS off)", False), ("RLS on", True), ("baseline again", False)):
            _rls(api.owner_url, enabled)
            _load(api, LIST_PATH, rate=args.rate, duration=5)  # warm up: the server's threads and connections
            listed = _load(api, LIST_PATH, rate=args.rate, duration=args.duration)
            created = _load(api, "/api/v1/vms", rate=args.create_rate, duration=args.create_duration,
                            method="POST", body=CREATE_BODY.replace("PREFIX", f"r{len(rows)}"), expect=201)
            rows.append((label, listed, created))
        _rls(api.owner_url, True)
        print(f"API benchmark: {args.vms} VMs in one project, as a project member; load from a separate process "
              f"(open loop): list {args.rate:g} req/s for {args.duration:g} s, create {args.create_rate:g} req/s "
              f"for {args.create_duration:g} s; load average {Path('/proc/loadavg').read_text().split()[:3]}\n")
        print(f"{'run':<20} {'list rps':>8} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7}   {'create rps':>10} "
              f"{'p50 ms':>7} {'p99 ms':>7}  failed (list/create)")
        for label, lst, crt in rows:
            print(f"{label:<20} {lst['sent_rate']:8.1f} {lst['p50_ms']:7.1f} {lst['p90_ms']:7.1f} {lst['p99_ms']:7.1f}"
                  f"   {crt['sent_rate']:10.1f} {crt['p50_ms']:7.1f} {crt['p99_ms']:7.1f}  "
                  f"{sum(lst['errors'].values())}/{sum(crt['errors'].values())}")
        print(f"{'floor (SQL + JSON)':<20} {'':>8} {floor50:7.2f} {'':>7} {floor99:7.2f}")
        base = [rows[0][1], rows[2][1]]
        base_c = [rows[0][2], rows[2][2]]
        rls_list, rls_create = rows[1][1], rows[1][2]

        def mean(runs: list[dict[str, Any]], key: str) -> float:
            return sum(r[key] for r in runs) / len(runs) or float("nan")  # nan: every request failed

        print(f"\nRLS overhead (RLS on / mean of baselines): list p50 {rls_list['p50_ms'] / mean(base, 'p50_ms'):.2f}x"
              f" p99 {rls_list['p99_ms'] / mean(base, 'p99_ms'):.2f}x; create p50 "
              f"{rls_create['p50_ms'] / mean(base_c, 'p50_ms'):.2f}x "
              f"p99 {rls_create['p99_ms'] / mean(base_c, 'p99_ms'):.2f}x")
        print(f"list / floor (RLS on): p50 {rls_list['p50_ms'] / floor50:.1f}x, "
              f"p99 {rls_list['p99_ms'] / floor99:.1f}x")
        print(f"SUMMARY api list p50 {rls_list['p50_ms']:.1f} ms p99 {rls_list['p99_ms']:.1f} ms at "
              f"{rls_list['sent_rate']:.0f} req/s; create p99 {rls_create['p99_ms']:.1f} ms at "
              f"{rls_create['sent_rate']:.0f} req/s; floor p50 {floor50:.2f} ms")


if __name__ == "__main__":
    main()
