"""Benchmark: the portal's guest list (first page of 10,000 VMs in one project) against the REST list of the
same page size in the same run, and the latency of live events: 100 open ``/events`` streams while 50
guests change status, from the committed status write to the event read by the client.

Real PostgreSQL (pgserver), real OpenBao (``bao server -dev``), the Proxmox VE simulator registered as
cluster ``demo``, uvicorn on a free loopback port; requests as a project member (the most filtered path),
one at a time, so the latency is the server's time plus loopback. Target: the page within 1.5x of the API
list; event p99 under 1 s.

Run: ``.venv/bin/python bench/portal_list.py [VMS] [REQUESTS] [STREAMS]`` (defaults 10000, 200, 100).
"""

from __future__ import annotations

import re
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._support import seeded_api
from tests.fixtures.api import PASSWORD

PAGE = 25
CHANGES = 50
SPACING = 0.05


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def _portal_session(url: str, email: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=60)
    form = client.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    resp = client.post("/login", data={"csrf_token": csrf, "email": email, "password": PASSWORD, "next": "/"})
    if resp.status_code != 303:
        raise RuntimeError(f"portal login failed: {resp.status_code}")
    return client


def _time(client: httpx.Client, path: str, params: dict[str, object], n: int, check: str) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        resp = client.get(path, params=params)
        out.append((time.perf_counter() - start) * 1000)
        if resp.status_code != 200 or check not in resp.text:
            raise RuntimeError(f"{path}: {resp.status_code} {resp.text[:200]}")
    return out


def _list_figures(url: str, token: str, member: str, requests: int) -> None:
    api = httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {token}"})
    portal = _portal_session(url, member)
    api_params, portal_params = {"limit": PAGE, "project": "shop"}, {"project": "shop"}
    _time(api, "/api/v1/vms", api_params, 20, "seed-")
    _time(portal, "/", portal_params, 20, "seed-")
    api_ms: list[float] = []
    portal_ms: list[float] = []
    for _ in range(4):  # interleaved rounds: both see the same machine load
        api_ms += _time(api, "/api/v1/vms", api_params, requests // 4, "seed-")
        portal_ms += _time(portal, "/", portal_params, requests // 4, "seed-")
    a50, a99, p50, p99 = (statistics.median(api_ms), _pct(api_ms, 0.99), statistics.median(portal_ms),
                          _pct(portal_ms, 0.99))
    print(f"{'first page of ' + str(PAGE):<28} {'p50 ms':>8} {'p99 ms':>8}")
    print(f"{'REST GET /api/v1/vms':<28} {a50:8.1f} {a99:8.1f}")
    print(f"{'portal GET / (HTML)':<28} {p50:8.1f} {p99:8.1f}")
    print(f"portal / REST: p50 {p50 / a50:.2f}x, p99 {p99 / a99:.2f}x (target <= 1.5x)")


def _event_figures(url: str, owner_url: str, member: str, streams: int, guest_ids: list[str]) -> None:
    cookies = _portal_session(url, member).cookies  # one login, many open pages
    written: dict[str, float] = {}
    seen: list[float] = []
    lock = threading.Lock()
    ready = threading.Barrier(streams + 1, timeout=60)
    done = threading.Event()

    def listen() -> None:
        client = httpx.Client(base_url=url, cookies=cookies)
        with client.stream("GET", "/events", timeout=httpx.Timeout(60, read=30)) as resp:
            lines = resp.iter_lines()
            next(lines)
            ready.wait()
            got: set[str] = set()
            for line in lines:
                if line.startswith("data: ") and '"id"' in line:
                    gid = line.split('"id": "')[1].split('"')[0]
                    now = time.perf_counter()
                    with lock:
                        if gid in written and gid not in got:
                            got.add(gid)
                            seen.append((now - written[gid]) * 1000)
                if len(got) >= len(guest_ids) or done.is_set():
                    return

    threads = [threading.Thread(target=listen, daemon=True) for _ in range(streams)]
    for thread in threads:
        thread.start()
    ready.wait()
    time.sleep(1.0)  # let every stream's subscription settle before the first write
    with psycopg.connect(owner_url, autocommit=True) as conn:
        for i, gid in enumerate(guest_ids):
            with lock:
                written[gid] = time.perf_counter()
            conn.execute("UPDATE virtual_machines SET status = status || jsonb_build_object('power', %s::text) "
                         "WHERE id = %s", ("running" if i % 2 else "stopped", gid))
            time.sleep(SPACING)  # 50 changes over a few seconds, as a busy reconciler writes them
    deadline = time.monotonic() + 60
    while len(seen) < streams * len(guest_ids) and time.monotonic() < deadline:
        time.sleep(0.2)
    done.set()
    expected = streams * len(guest_ids)
    print(f"\nlive events: {streams} open streams, {len(guest_ids)} guests change status; "
          f"{len(seen)}/{expected} events arrived")
    if seen:
        print(f"status write -> event at the client: p50 {statistics.median(seen):.1f} ms, "
              f"p99 {_pct(seen, 0.99):.1f} ms (target p99 < 1000 ms)")


def main(vms: int = 10_000, requests: int = 200, streams: int = 100) -> None:
    with seeded_api(vms, 20) as api:
        with psycopg.connect(api.owner_url, autocommit=True) as conn:
            ids = [str(r[0]) for r in conn.execute("SELECT id FROM virtual_machines ORDER BY name LIMIT %s",
                                                   (CHANGES,))]
        print(f"portal benchmark: {vms} VMs in one project, {requests} requests each, as a project member\n")
        _list_figures(api.url, api.member_token, api.member, requests)
        if streams:
            _event_figures(api.url, api.owner_url, api.member, streams, ids)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]))
