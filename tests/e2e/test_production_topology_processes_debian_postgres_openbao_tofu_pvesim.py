"""The production topology as processes, no containers: a Debian PostgreSQL server (``initdb`` + ``pg_ctl``),
a non-dev OpenBao (raft) bootstrapped by ``vault/bootstrap.sh`` with AppRole logins for the API and the
workers, the simulator, ``controlplane db upgrade``, two ``controlplane api`` and three ``controlplane
worker`` processes, each the venv's console script configured by environment.

50 guests created through both API processes converge to Ready; the run records show no object worked on
by two runs at once and the simulator holds exactly 50 guests, one per object; a worker killed with SIGKILL
while OpenTofu applies has its objects taken over by another worker (lease expiry) and they end Ready;
PostgreSQL stopped (``-m fast``) and started mid-run loses nothing, and every API and worker process carries
on by itself. The figures (memory per process, runs per worker, durations) are printed for sizing.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import ssl
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import hvac
import psutil
import psycopg
import pytest
from psycopg.rows import dict_row

from controlplane.db.embedded import DatabaseUrls
from controlplane.drivers.embedded_vault import EmbeddedOpenBao
from controlplane.util.binaries import PROJECT_ROOT, find_binary
from controlplane.util.net import wait_for
from tests.e2e.upflow import ready
from tests.fixtures.api import PASSWORD
from tests.fixtures.conditions import condition
from tests.fixtures.debian_postgres import DebianPostgres, debian_postgres
from tests.fixtures.processes import start_listening, stop_process
from tests.fixtures.toolchain import Toolchain

pytestmark = pytest.mark.slow

CONTROLPLANE = str(Path(sys.executable).parent / "controlplane")
BOOTSTRAP = PROJECT_ROOT / "vault" / "bootstrap.sh"
GUESTS = 50
LEASE_TTL = 5
PATHS = {"VirtualMachine": "/api/v1/vms", "Container": "/api/v1/containers"}


def _env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTROLPLANE_")}
    env.update(settings)
    return env


def _secret_file(path: Path, value: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return path


@dataclass
class Topology:
    """Every process of the run, and what the test needs to reach them."""

    pg: DebianPostgres
    db: DatabaseUrls
    apis: list[tuple[subprocess.Popen[bytes], int]] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    sim: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen[Any]] = field(default_factory=list)
    peak_rss: dict[str, int] = field(default_factory=dict)
    killed: set[int] = field(default_factory=set)
    log_dir: Path = Path()

    def check_alive(self) -> None:
        """Fail at once, with the end of its log, when a worker the test did not kill has exited."""
        for i, worker in enumerate(self.workers):
            if worker.pid not in self.killed and worker.poll() is not None:
                log = (self.log_dir / f"worker-{i}.log").read_text(errors="replace")[-3000:]
                raise AssertionError(f"worker {i} exited with {worker.returncode}:\n{log}")

    def sample_memory(self) -> None:
        """Remember the largest resident set of each API and worker process (and of a worker's children:
        OpenTofu and its provider); fail when a worker died unexpectedly."""
        self.check_alive()
        named = [(f"api-{i}", p) for i, (p, _) in enumerate(self.apis)]
        named += [(f"worker-{i}", p) for i, p in enumerate(self.workers)]
        for name, process in named:
            try:
                proc = psutil.Process(process.pid)
                own = proc.memory_info().rss
                children = sum(c.memory_info().rss for c in proc.children(recursive=True))
            except psutil.Error:
                continue
            self.peak_rss[name] = max(self.peak_rss.get(name, 0), own)
            self.peak_rss[f"{name}+children"] = max(self.peak_rss.get(f"{name}+children", 0), own + children)


def _start_sim(topology: Topology, tmp_path: Path) -> None:
    with (tmp_path / "pvesim.log").open("w") as log:
        sim = subprocess.Popen([CONTROLPLANE, "pvesim", "--port", "0", "--nodes", "3", "--task-seconds", "1",
                                "--ca-dir", str(tmp_path / "sim-ca")],
                               stdout=subprocess.PIPE, stderr=log, text=True, cwd=tmp_path, env=_env(),
                               start_new_session=True)
    topology.processes.append(sim)
    assert sim.stdout is not None
    line = sim.stdout.readline()
    assert line.startswith("pvesim ready"), line
    topology.sim = dict(part.split("=", 1) for part in line.split()[2:])


def _bootstrap_vault(bao: EmbeddedOpenBao, tmp_path: Path) -> dict[str, dict[str, str]]:
    """Run vault/bootstrap.sh as an operator would; an AppRole role id and secret id per service."""
    binary = find_binary("bao")
    assert binary is not None
    env = {"PATH": f"{Path(binary).parent}:/usr/bin:/bin", "VAULT_ADDR": bao.addr, "VAULT_TOKEN": bao.token,
           "HOME": str(tmp_path)}
    done = subprocess.run([str(BOOTSTRAP)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    root = hvac.Client(url=bao.addr, token=bao.token)
    return {role: {"role_id": root.auth.approle.read_role_id(f"controlplane-{role}")["data"]["role_id"],
                   "secret_id": root.auth.approle.generate_secret_id(f"controlplane-{role}")["data"]["secret_id"]}
            for role in ("api", "worker")}


@pytest.fixture
def topology(tmp_path: Path, toolchain: Toolchain) -> Iterator[Topology]:
    """Start every process; stop every one of them afterwards, whatever happened."""
    bao = EmbeddedOpenBao(tmp_path / "openbao")
    with debian_postgres() as (pg, db):
        top = Topology(pg=pg, db=db, log_dir=tmp_path)
        try:
            bao.start()
            creds = _bootstrap_vault(bao, tmp_path)
            _start_sim(top, tmp_path)
            database = {"CONTROLPLANE_DATABASE_URL": db.owner, "CONTROLPLANE_APP_DATABASE_URL": db.app}
            common = {**database, "CONTROLPLANE_VAULT_ADDR": bao.addr}
            migrated = subprocess.run([CONTROLPLANE, "db", "upgrade"], env=_env(**database), cwd=tmp_path,
                                      capture_output=True, text=True, timeout=180)
            assert migrated.returncode == 0, migrated.stderr + migrated.stdout
            admin = subprocess.run([CONTROLPLANE, "user", "create", "ops@example.test", "--role", "admin"],
                                   input=PASSWORD + "\n", env=_env(**database), cwd=tmp_path, capture_output=True,
                                   text=True, timeout=120)
            assert admin.returncode == 0, admin.stderr + admin.stdout
            role_file = tmp_path / "worker-role-id"
            role_file.write_text(creds["worker"]["role_id"])
            secret_file = _secret_file(tmp_path / "worker-secret-id", creds["worker"]["secret_id"])
            for i in range(3):  # the worker's as files; they need no API, so they start first
                env = _env(**common, CONTROLPLANE_VAULT_ROLE_ID_FILE=str(role_file),
                           CONTROLPLANE_VAULT_SECRET_ID_FILE=str(secret_file),
                           CONTROLPLANE_TF_BINARY=str(toolchain.tofu),
                           CONTROLPLANE_RUN_DIR=str(tmp_path / f"runs-{i}"),
                           CONTROLPLANE_DATA_DIR=str(tmp_path / f"worker-{i}"))
                with (tmp_path / f"worker-{i}.log").open("wb") as log:
                    worker = subprocess.Popen(
                        [CONTROLPLANE, "worker", "--concurrency", "2", "--poll-interval", "1",
                         "--resync-interval", "15", "--lease-ttl", str(LEASE_TTL)],
                        env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
                top.workers.append(worker)
                top.processes.append(worker)

            def start_api(i: int) -> tuple[subprocess.Popen[bytes], int]:
                env = _env(**common, CONTROLPLANE_VAULT_ROLE_ID=creds["api"]["role_id"],
                           CONTROLPLANE_VAULT_SECRET_ID=creds["api"]["secret_id"],
                           CONTROLPLANE_DATA_DIR=str(tmp_path / f"api-{i}"), CONTROLPLANE_LOGIN_LIMIT_IP="10000")
                return start_listening(lambda port: [CONTROLPLANE, "api", "--port", str(port)], ready,
                                       what=f"controlplane api {i}", log_dir=tmp_path, timeout=240, env=env)

            # the API's secret id given as a variable; both replicas start at once (migration lock, signing key)
            with ThreadPoolExecutor(2) as pool:
                starting = [pool.submit(start_api, i) for i in range(2)]
            for future in starting:
                if future.exception() is None:
                    top.apis.append(future.result())
                    top.processes.append(top.apis[-1][0])
            for future in starting:
                future.result()  # the first start that failed fails the set-up, after the others are kept
            yield top
        finally:
            for process in reversed(top.processes):
                stop_process(process, grace=30)
                if process.stdout is not None:
                    process.stdout.close()
            bao.stop()


class Client:
    """One user's HTTP clients, one per API process, used in turn."""

    def __init__(self, ports: list[int], token: str) -> None:
        self.clients = [httpx.Client(base_url=f"http://127.0.0.1:{p}", timeout=60,
                                     headers={"Authorization": f"Bearer {token}"}) for p in ports]
        self._turn = itertools.cycle(range(len(self.clients)))

    def next(self) -> httpx.Client:
        """The client of the next API process."""
        return self.clients[next(self._turn)]

    def close(self) -> None:
        """Close every client."""
        for client in self.clients:
            client.close()


def _login(port: int, email: str) -> str:
    resp = httpx.post(f"http://127.0.0.1:{port}/api/v1/auth/login", json={"email": email, "password": PASSWORD},
                      timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.json()["access_token"]


def _seed(top: Topology) -> Client:
    """Tenant, project, a member user and the simulator registered as a cluster, through the first API
    process; the user's client talks to both (the signing key is shared through Vault)."""
    ports = [port for _, port in top.apis]
    admin = Client(ports, _login(ports[0], "ops@example.test"))
    api = admin.clients[0]
    for path, body in (("/api/v1/tenants", {"name": "acme"}),
                       ("/api/v1/projects", {"name": "shop", "tenant": "acme", "quota": {}}),
                       ("/api/v1/users", {"email": "dev@acme.test", "password": PASSWORD, "role": "user",
                                          "tenant": "acme"})):
        resp = api.post(path, json=body)
        assert resp.status_code == 201, resp.text
    projects = api.get("/api/v1/projects").json()["items"]
    users = api.get("/api/v1/users").json()["items"]
    project_id = next(p["id"] for p in projects if p["name"] == "shop")
    user_id = next(u["id"] for u in users if u["email"] == "dev@acme.test")
    assert api.post(f"/api/v1/projects/{project_id}/members", json={"user_id": user_id}).status_code == 201
    resp = api.post("/api/v1/clusters", json={
        "name": "demo", "endpoint": top.sim["url"], "token_id": top.sim["token"].split("=", 1)[0],
        "token_secret": top.sim["token"].split("=", 1)[1], "verify_tls": True,
        "ca_cert_pem": Path(top.sim["ca"]).read_text()})
    assert resp.status_code == 201, resp.text
    admin.close()
    return Client(ports, _login(ports[1], "dev@acme.test"))


def _create(user: Client, kind: str, name: str) -> dict[str, Any]:
    body = {"cluster": "demo", "node": "auto", "cores": 1, "memory_mb": 256, "image": "debian-12",
            "disks": [{"size_gb": 4, "storage": "local-lvm"}], "network": [{"bridge": "vmbr0", "ipv4": "dhcp"}],
            "power": "running"}
    resp = user.next().post(PATHS[kind], json={"apiVersion": "controlplane/v1", "kind": kind,
                                               "metadata": {"name": name, "project": "shop"}, "spec": body})
    assert resp.status_code == 201, resp.text
    return resp.json()


def _ready_names(user: Client) -> set[str]:
    names = set()
    for path in PATHS.values():
        resp = user.next().get(path, params={"limit": 200})
        assert resp.status_code == 200, resp.text
        names |= {g["metadata"]["name"] for g in resp.json()["items"]
                  if condition(g, "Ready").get("status") in (True, "True")}
    return names


def _runs(db: DatabaseUrls) -> list[dict[str, Any]]:
    with psycopg.connect(db.owner, row_factory=dict_row) as conn:
        return conn.execute("SELECT id, target_id, target_name, action, state, worker, error, started_at, "
                            "finished_at FROM runs ORDER BY started_at").fetchall()


def _applying(db: DatabaseUrls) -> list[dict[str, Any]]:
    """Runs in progress whose OpenTofu apply has started."""
    with psycopg.connect(db.owner, row_factory=dict_row) as conn:
        return conn.execute(
            "SELECT r.id, r.target_id, r.target_name, r.worker FROM runs r WHERE r.state = 'running' AND EXISTS "
            "(SELECT 1 FROM run_log_entries e WHERE e.run_id = r.id AND e.stream = 'tofu' "
            "AND e.line LIKE '%\"type\":\"apply_start\"%')").fetchall()


def _sim_guests(sim: dict[str, str]) -> list[dict[str, Any]]:
    resp = httpx.get(sim["api"] + "/cluster/resources", params={"type": "vm"},
                     verify=ssl.create_default_context(cafile=sim["ca"]), timeout=30,
                     headers={"Authorization": f"PVEAPIToken={sim['token']}"})
    assert resp.status_code == 200, resp.text
    return [g for g in resp.json()["data"] if not g.get("template")]


def _not_ready_report(top: Topology, user: Client, names: dict[str, str]) -> str:
    """For each guest not Ready yet, its last runs (action, state, worker, error): what a timeout shows."""
    try:
        missing = sorted(set(names) - _ready_names(user))
    except (httpx.HTTPError, AssertionError) as exc:
        return f"the API did not answer: {exc}"
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run in _runs(top.db):
        by_name[run["target_name"]].append(run)
    lines = [f"{len(missing)} guest(s) not Ready: {missing}"]
    for name in missing:
        for run in by_name[name][-4:]:
            lines.append(f"  {name}: {run['action']} {run['state']} on {run['worker']} from {run['started_at']:%T} "
                         f"to {run['finished_at'] and format(run['finished_at'], '%T')}: {(run['error'] or '')[:400]}")
        last = by_name[name][-1:]
        if last:
            with psycopg.connect(top.db.owner) as conn:
                tail = conn.execute("SELECT stream, line FROM run_log_entries WHERE run_id = %s ORDER BY seq DESC "
                                    "LIMIT 25", (last[0]["id"],)).fetchall()
            lines += [f"    {stream}: {line[:300]}" for stream, line in reversed(tail)]
    return "\n".join(lines)


def _pid(holder: str) -> int:
    match = re.fullmatch(r".*:(\d+):[0-9a-f]+", holder)
    assert match, holder
    return int(match.group(1))


def test_production_topology_converges_survives_a_killed_worker_and_a_postgres_restart(
        topology: Topology) -> None:
    top = topology
    started = time.monotonic()
    user = _seed(top)
    try:
        names = {f"g-{i:02d}": ("VirtualMachine" if i % 2 else "Container") for i in range(GUESTS)}
        for name, kind in names.items():
            _create(user, kind, name)
        created = time.monotonic()

        def applying_on_a_worker() -> list[dict[str, Any]] | None:
            top.sample_memory()
            return _applying(top.db) or None

        victim_run = wait_for(applying_on_a_worker, timeout=300, interval=0.2, what="an OpenTofu apply")[0]
        victim = next(w for w in top.workers if w.pid == _pid(victim_run["worker"]))
        with psycopg.connect(top.db.owner) as conn:  # everything the worker holds is left to expire
            held = {r[0] for r in conn.execute("SELECT target_name FROM runs WHERE state = 'running' AND worker = %s",
                                               (victim_run["worker"],))}
        top.killed.add(victim.pid)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        killed_at = time.monotonic()

        def some_ready(count: int) -> set[str] | None:
            top.sample_memory()
            done = _ready_names(user)
            return done if len(done) >= count else None

        wait_for(lambda: some_ready(GUESTS // 3), timeout=600, interval=1, what=f"{GUESTS // 3} guests Ready")
        with psycopg.connect(top.db.owner) as conn:
            in_flight = conn.execute("SELECT count(*) FROM runs WHERE state = 'running'").fetchone()[0]
        assert in_flight > 0, "PostgreSQL should restart while runs are in progress"
        top.pg.stop_fast()
        top.pg.start_again()
        with psycopg.connect(top.db.owner) as conn:
            restarted_at = conn.execute("SELECT now()").fetchone()[0]

        try:  # within the test's own timeout, so that a guest that does not converge shows why
            wait_for(lambda: some_ready(GUESTS), timeout=400, interval=1, what=f"all {GUESTS} guests Ready")
        except TimeoutError as exc:
            raise AssertionError(f"{exc}; the killed worker held {sorted(held)}\n"
                                 f"{_not_ready_report(top, user, names)}") from exc
        converged = time.monotonic()

        # every process but the killed worker is still up, and the API processes answer on the database
        top.check_alive()
        for process, port in top.apis:
            assert process.poll() is None
            assert ready(port)["components"]["postgresql"]["status"] == "ok"  # type: ignore[index]

        runs = _runs(top.db)
        by_target: dict[object, list[dict[str, Any]]] = defaultdict(list)
        for run in runs:
            by_target[run["target_id"]].append(run)
        assert len(by_target) == GUESTS
        for target_runs in by_target.values():
            for before, after in itertools.pairwise(target_runs):
                assert before["finished_at"] is not None and before["finished_at"] <= after["started_at"], \
                    f"two runs overlapped on {before['target_name']}: {before['id']} and {after['id']}"
            assert target_runs[-1]["state"] == "succeeded"

        # the killed worker's objects: its runs closed as lost, finished by another worker
        dead = victim_run["worker"]
        assert victim_run["target_name"] in held
        for name in held:
            target_runs = next(rs for rs in by_target.values() if rs[0]["target_name"] == name)
            lost = [r for r in target_runs if r["worker"] == dead]
            assert lost and all(r["state"] == "failed" and "worker lost" in r["error"] for r in lost), lost
            assert target_runs[-1]["worker"] != dead

        # the workers that lived took work after PostgreSQL came back: they reconnected by themselves
        after_restart = Counter(r["worker"] for r in runs if r["started_at"] > restarted_at)
        assert after_restart, "no run started after the restart"
        assert dead not in after_restart

        # nothing lost: the simulator holds exactly one guest per object, of its kind
        seen = _sim_guests(top.sim)
        assert Counter(g["name"] for g in seen) == Counter(list(names)), "not exactly one guest per object"
        assert {g["name"]: g["type"] for g in seen} == {
            n: "qemu" if k == "VirtualMachine" else "lxc" for n, k in names.items()}

        per_worker = Counter(r["worker"] for r in runs)
        durations = sorted((r["finished_at"] - r["started_at"]).total_seconds() for r in runs
                           if r["state"] == "succeeded")
        report = {
            "guests": GUESTS, "seconds_to_converge": round(converged - created, 1),
            "seconds_to_kill": round(killed_at - created, 1), "seconds_total": round(time.monotonic() - started, 1),
            "runs": len(runs), "runs_in_flight_at_restart": in_flight,
            "runs_per_worker": sorted(per_worker.values(), reverse=True),
            "states": dict(Counter(r["state"] for r in runs)),
            "run_seconds_median_max": [round(statistics.median(durations), 1), round(durations[-1], 1)],
            "peak_rss_mib": {k: round(v / 2**20) for k, v in sorted(top.peak_rss.items())},
            "loadavg": Path("/proc/loadavg").read_text().split()[:3],
        }
        print("\nproduction topology:", json.dumps(report))
    finally:
        user.close()
