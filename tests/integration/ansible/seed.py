"""Rows for inventory tests, written with SQL as the owner role (the API that writes them comes later)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import psycopg


@dataclass
class GuestRow:
    """One guest to insert: where it lives, what it wants, and what was observed."""

    name: str
    tenant: str = "acme"
    project: str = "shop"
    kind: str = "vm"
    cluster: str = "demo"
    node: str = "pve1"
    vmid: int = 100
    ipv4: str | None = None
    power: str = "running"
    image: str = "debian-12"
    tags: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    configure: dict[str, Any] = field(default_factory=lambda: {"playbook": "site.yml", "vars": {}})
    deleted: bool = False


def seed(owner_url: str, guests: list[GuestRow], nodes: tuple[str, ...] = ("pve1", "pve2")) -> dict[str, str]:
    """Insert tenants, projects, the clusters with ``nodes`` and ``guests``; returns tenant name -> id."""
    tenant_ids: dict[str, str] = {}
    with psycopg.connect(owner_url) as conn:
        clusters = {g.cluster for g in guests} | {"demo"}
        cluster_ids = {}
        for cluster in sorted(clusters):
            cluster_ids[cluster] = conn.execute(
                "INSERT INTO clusters (name, endpoint, token_id, secret_path) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id",
                (cluster, "https://127.0.0.1:8006", "root@pam!cp", f"clusters/{cluster}"),
            ).fetchone()[0]
            for node in nodes:
                conn.execute(
                    "INSERT INTO nodes (cluster_id, name, status, cpus, memory_total_mb) "
                    "VALUES (%s, %s, 'online', 16, 65536) "
                    "ON CONFLICT DO NOTHING",
                    (cluster_ids[cluster], node),
                )
        project_ids: dict[tuple[str, str], str] = {}
        for g in guests:
            if g.tenant not in tenant_ids:
                tenant_ids[g.tenant] = str(
                    conn.execute(
                        "INSERT INTO tenants (name) VALUES (%s) ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name "
                        "RETURNING id", (g.tenant,)).fetchone()[0]
                )
            if (g.tenant, g.project) not in project_ids:
                project_ids[g.tenant, g.project] = conn.execute(
                    "INSERT INTO projects (tenant_id, name) VALUES (%s, %s) ON CONFLICT (tenant_id, name) "
                    "DO UPDATE SET name = EXCLUDED.name RETURNING id",
                    (tenant_ids[g.tenant], g.project),
                ).fetchone()[0]
            spec = {
                "cluster": g.cluster, "node": g.node, "cores": 1, "memory_mb": 512, "image": g.image,
                "power": g.power, "tags": g.tags, "configure": g.configure,
            }
            status = {"vmid": g.vmid, "node": g.node, "power": g.power}
            if g.ipv4:
                status["ipv4"] = g.ipv4
            table = "virtual_machines" if g.kind == "vm" else "containers"
            conn.execute(
                f"INSERT INTO {table} (tenant_id, project_id, cluster_id, name, labels, spec, status, deleted_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, CASE WHEN %s THEN now() END)",
                (tenant_ids[g.tenant], project_ids[g.tenant, g.project], cluster_ids[g.cluster], g.name,
                 json.dumps(g.labels), json.dumps(spec), json.dumps(status), g.deleted),
            )
    return tenant_ids
