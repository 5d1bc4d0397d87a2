"""Benchmark: ``ansible-inventory --list`` for 10,000 guests on 10 nodes, our ``controlplane`` inventory plugin
(reading PostgreSQL) against the community.proxmox inventory plugin (reading the Proxmox API of pvesim holding
the same guests), with ``want_facts`` off and on; ours by default and with ``want_spec: true`` (every host's
full spec), and ``controlplane inventory --list``. Prints times, ratios, SQL queries and HTTP requests.

Two floors beside them: the same hosts and variables given to Ansible by an executable script inventory
(``controlplane inventory --list`` behind a script: Ansible's own cost of these hosts and variables, whoever
reads them), and ``ansible-inventory --graph`` of ours and of community.proxmox (the inventory loaded, as a
play loads it, without ``--list``'s per-host variable resolution and JSON dump).

Loopback only. Run: ``.venv/bin/python bench/inventory_ansible.py [--guests 10000] [--skip-facts]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from controlplane.db import migrate  # noqa: E402
from controlplane.db.embedded import EmbeddedPostgres  # noqa: E402
from controlplane.pvesim import SimConfig, Simulator  # noqa: E402

BIN = Path(sys.executable).parent


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTROLPLANE_", "ANSIBLE_", "PROXMOX_"))}
    env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_INVENTORY_UNPARSED_FAILED="1",
               ANSIBLE_LOCAL_TEMP=str(tmp / "ansible-tmp"), ANSIBLE_INVENTORY_CACHE="false", **extra)
    return env


def _timed(args: list[str], env: dict[str, str], what: str,
           timeout: float = 3600) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Seconds ``args`` took (run from the repository) and the finished process; exits naming ``what`` when it
    fails."""
    start = time.perf_counter()
    proc = subprocess.run(args, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed:\n{proc.stderr[-3000:]}")
    return elapsed, proc


def _inventory(source: Path, env: dict[str, str]) -> tuple[float, dict, str]:
    elapsed, proc = _timed([str(BIN / "ansible-inventory"), "-i", str(source), "--list", "-vv"], env,
                           f"ansible-inventory for {source.name}")
    return elapsed, json.loads(proc.stdout[proc.stdout.index("{"):]), proc.stdout + proc.stderr


def _graph(source: Path, env: dict[str, str]) -> float:
    """Seconds ``ansible-inventory --graph`` takes: the inventory loaded, no variables resolved or dumped."""
    return _timed([str(BIN / "ansible-inventory"), "-i", str(source), "--graph"], env,
                  f"ansible-inventory --graph for {source.name}")[0]


def _script_floor(tmp: Path, env: dict[str, str]) -> tuple[float, int]:
    """Seconds and hosts of ``ansible-inventory --list`` over an executable script printing our inventory's
    JSON (``controlplane inventory --list``): Ansible's cost of exactly these hosts and variables."""
    script = tmp / "controlplane_inventory.sh"
    script.write_text(f'#!/bin/sh\nexec "{BIN / "controlplane"}" inventory "$@"\n')
    script.chmod(0o755)
    elapsed, proc = _timed([str(BIN / "ansible-inventory"), "-i", str(script), "--list"],
                           {**env, "ANSIBLE_INVENTORY_ENABLED": "script"}, "ansible-inventory for the script")
    return elapsed, len(json.loads(proc.stdout)["_meta"]["hostvars"])


def _cli_list(env: dict[str, str]) -> float:
    """Seconds ``controlplane inventory --list`` takes (the whole process, as a script inventory runs it)."""
    elapsed, proc = _timed([str(BIN / "controlplane"), "inventory", "--list"], env,
                           "controlplane inventory --list", timeout=600)
    json.loads(proc.stdout)
    return elapsed


def _seed(owner_url: str, sim: Simulator) -> int:
    """The simulator's guests as controlplane rows: same vmid, node, kind, power state and address. Templates
    are images, not guests, so neither inventory lists them as hosts."""
    guests = sorted((g for g in sim.state.guests.values() if not g.template), key=lambda g: g.vmid)
    with psycopg.connect(owner_url) as conn:
        tenant = conn.execute("INSERT INTO tenants (name) VALUES ('bench') RETURNING id").fetchone()[0]
        cluster = conn.execute(
            "INSERT INTO clusters (name, endpoint, token_id, secret_path) VALUES ('demo', %s, 'root@pam!cp', 'c/demo') "
            "RETURNING id", (sim.url,)).fetchone()[0]
        projects = {}
        for node in sim.state.nodes:
            conn.execute("INSERT INTO nodes (cluster_id, name, status) VALUES (%s, %s, 'online')", (cluster, node))
            projects[node] = conn.execute("INSERT INTO projects (tenant_id, name) VALUES (%s, %s) RETURNING id",
                                          (tenant, f"p-{node}")).fetchone()[0]
        rows = [
            (tenant, projects[g.node], cluster, f"g{g.vmid}",
             json.dumps({"cluster": "demo", "node": g.node, "cores": 1, "memory_mb": 512, "power": g.status,
                         "tags": ["bench"], "configure": {"playbook": "site.yml", "vars": {}}}),
             json.dumps({"vmid": g.vmid, "node": g.node, "power": g.status, "ipv4": sim.state.guest_ip(g)}), g.kind)
            for g in guests
        ]
        with conn.cursor() as cur:
            for table, kind in (("virtual_machines", "qemu"), ("containers", "lxc")):
                cur.executemany(
                    f"INSERT INTO {table} (tenant_id, project_id, cluster_id, name, spec, status) "
                    "VALUES (%s, %s, %s, %s, %s, %s)", [r[:6] for r in rows if r[6] == kind])
    return len(rows)


def main() -> None:
    """Seed both sides with the same guests, run each inventory, print figures and a one-line summary."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--guests", type=int, default=10_000)
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--skip-facts", action="store_true", help="skip community.proxmox with want_facts")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cp-bench-inv-"))
    pg = EmbeddedPostgres(tmp / "pg")
    pg.start()
    try:
        with Simulator(SimConfig(nodes=args.nodes, guests=args.guests, seed=1, ca_dir=str(tmp / "ca"))) as sim:
            urls = pg.ensure_database("bench")
            migrate.upgrade(urls.owner)
            count = _seed(urls.owner, sim)
            ours_env = _env(tmp, CONTROLPLANE_DATABASE_URL=urls.owner)
            ours_file = tmp / "bench.controlplane.yml"
            ours_file.write_text("plugin: controlplane\n")
            ours_t, ours, out = _inventory(ours_file, ours_env)
            queries = int(re.search(r"in (\d+) SQL queries", out).group(1))
            ours_hosts = len(ours["_meta"]["hostvars"])
            print(f"controlplane plugin (PostgreSQL):      {ours_t:7.2f} s  {ours_hosts} hosts  {queries} SQL queries")
            full_file = tmp / "full.controlplane.yml"
            full_file.write_text("plugin: controlplane\nwant_spec: true\n")
            full_t, _, _ = _inventory(full_file, ours_env)
            print(f"controlplane plugin, want_spec: true:  {full_t:7.2f} s  ratio {full_t / ours_t:6.1f}x ours")
            cli_t = _cli_list(ours_env)
            print(f"controlplane inventory --list:         {cli_t:7.2f} s")
            script_t, script_hosts = _script_floor(tmp, ours_env)
            print(f"script floor (same JSON, script):      {script_t:7.2f} s  {script_hosts} hosts  "
                  f"ratio {script_t / ours_t:6.2f}x ours")
            ours_graph = _graph(ours_file, ours_env)

            pve_env = _env(tmp, REQUESTS_CA_BUNDLE=sim.ca_file, PROXMOX_TOKEN_SECRET=sim.token_secret,
                           ANSIBLE_INVENTORY_ENABLED="community.proxmox.proxmox")
            results = {}
            for facts in ([False] if args.skip_facts else [False, True]):
                source = tmp / f"{'facts' if facts else 'plain'}.proxmox.yml"
                source.write_text(yaml.safe_dump({
                    "plugin": "community.proxmox.proxmox", "url": sim.url, "user": "root@pam",
                    "token_id": sim.token_name, "validate_certs": True, "want_facts": facts,
                }))
                sim.stats.reset()
                elapsed, listing, _ = _inventory(source, pve_env)
                requests = sim.stats.total()
                results[facts] = (elapsed, requests)
                print(f"community.proxmox want_facts={facts!s:5}:  {elapsed:7.2f} s  "
                      f"{len(listing['_meta']['hostvars'])} hosts  {requests} HTTP requests  "
                      f"ratio {elapsed / ours_t:6.1f}x ours")
            plain_t, plain_n = results[False]
            flat_graph = _graph(tmp / "plain.proxmox.yml", pve_env)
            print(f"--graph (loaded, no variables dumped): ours {ours_graph:.2f} s, community.proxmox "
                  f"{flat_graph:.2f} s ({flat_graph / ours_graph:.2f}x ours)")
            summary = (
                f"SUMMARY inventory of {count} guests/{args.nodes} nodes: controlplane {ours_t:.2f} s in {queries} "
                f"SQL queries (want_spec {full_t:.2f} s; script floor {script_t:.2f} s; `controlplane inventory "
                f"--list` {cli_t:.2f} s; --graph {ours_graph:.2f} s); community.proxmox {plain_t:.2f} s "
                f"({plain_t / ours_t:.2f}x; --graph {flat_graph:.2f} s) in {plain_n} requests"
            )
            if True in results:
                facts_t, facts_n = results[True]
                summary += (f", with want_facts {facts_t:.2f} s ({facts_t / ours_t:.1f}x ours, "
                            f"{facts_t / full_t:.1f}x want_spec) in {facts_n} requests")
            print(summary)
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
