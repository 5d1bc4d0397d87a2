"""The Ansible inventory of everything the control plane manages, read from PostgreSQL in a fixed number of queries.

One module holds the SQL and the shape of hosts, host variables and default groups, so that the Ansible
inventory plugin (``inventory_plugins/controlplane.py``) and ``controlplane inventory --list/--host`` agree.
Guests (VMs and containers) and Proxmox nodes are read with one query each, whatever their number; with a
tenant the connection acts as the application role in that tenant, so Row-Level Security decides what is
visible. Deleted guests (``deleted_at`` set) are not hosts.

A host's variables are what a play needs to reach and sort it (address, vmid, node, cluster, tenant,
project, tags, labels, power state, OS type, image) and the guest's ``spec.configure.vars``; its whole
``spec`` is bulky and only there when asked for (``want_spec``). Without it PostgreSQL sends only the few
spec and status fields those variables come from.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from controlplane.db.claims import CLAIM_SETTING, ClaimKey, sign_claim
from controlplane.db.roles import APP_ROLE
from controlplane.errors import ComponentError, NotFound, PermanentError, TemporaryError
from controlplane.services.inventory_source import InventorySource

#: The spec and status fields the default host variables are made of.
SPEC_FIELDS = ("configure", "node", "tags", "image")
STATUS_FIELDS = ("vmid", "node", "tags", "power", "ostype", "ipv4")


def _picked(column: str, fields: tuple[str, ...]) -> str:
    """SQL for a JSON object of only ``fields`` of ``column`` (constant names, never user input)."""
    return "jsonb_build_object(" + ", ".join(f"'{f}', {column}->'{f}'" for f in fields) + ")"


GUESTS_SQL = """
SELECT g.kind, g.id::text AS id, g.name, t.name AS tenant, p.name AS project,
       coalesce(c.name, g.spec->>'cluster') AS cluster, g.labels, {spec} AS spec, {status} AS status
FROM (
  SELECT 'vm' AS kind, id, tenant_id, project_id, cluster_id, name, labels, spec, status
    FROM virtual_machines WHERE deleted_at IS NULL
  UNION ALL
  SELECT 'container', id, tenant_id, project_id, cluster_id, name, labels, spec, status
    FROM containers WHERE deleted_at IS NULL
) g
JOIN tenants t ON t.id = g.tenant_id
JOIN projects p ON p.id = g.project_id
LEFT JOIN clusters c ON c.id = g.cluster_id
WHERE (cardinality(%(tenants)s::text[]) = 0 OR t.name = ANY(%(tenants)s))
  AND (cardinality(%(projects)s::text[]) = 0 OR p.name = ANY(%(projects)s)
       OR t.name || '/' || p.name = ANY(%(projects)s))
  AND (cardinality(%(clusters)s::text[]) = 0 OR coalesce(c.name, g.spec->>'cluster') = ANY(%(clusters)s))
  AND (cardinality(%(kinds)s::text[]) = 0 OR g.kind = ANY(%(kinds)s))
  AND (cardinality(%(power)s::text[]) = 0 OR coalesce(g.status->>'power', 'unknown') = ANY(%(power)s))
ORDER BY t.name, p.name, g.name, g.kind
"""

NODES_SQL = """
SELECT n.name, c.name AS cluster, n.status, n.cpus, n.memory_total_mb, n.memory_used_mb
FROM nodes n JOIN clusters c ON c.id = n.cluster_id
WHERE cardinality(%(clusters)s::text[]) = 0 OR c.name = ANY(%(clusters)s)
ORDER BY c.name, n.name
"""

_INVALID_GROUP_CHARS = re.compile(r"^[\d\W]|[^\w]")
# Proxmox OS types: containers name their distribution (pct's ``ostype``), VMs a kernel family (qm's ``ostype``).
CONTAINER_OSTYPES = ("alpine", "archlinux", "centos", "debian", "devuan", "fedora", "gentoo", "nixos",
                     "opensuse", "ubuntu")
LINUX_IMAGES = (*CONTAINER_OSTYPES, "almalinux", "arch", "rocky", "rhel", "oraclelinux", "suse", "flatcar",
                "coreos", "talos", "linux")
WINDOWS_OSTYPES = (("win11", "win11"), ("win10", "win10"), ("win8", "win8"), ("win7", "win7"),
                   ("windows-2025", "win11"), ("windows-2022", "win11"), ("windows-2019", "win10"),
                   ("windows-11", "win11"), ("windows-10", "win10"), ("windows", "win11"))
KIND_GROUPS = {"vm": "virtual_machines", "container": "containers"}
NODES_GROUP = "proxmox_nodes"


def safe_group_name(name: str) -> str:
    """The group name Ansible would use for ``name`` (the same rule as its ``to_safe_group_name``)."""
    return _INVALID_GROUP_CHARS.sub("_", name)


@dataclass(frozen=True)
class InventoryFilter:
    """Which hosts to include; an empty tuple means no restriction. Projects are ``name`` or ``tenant/name``."""

    tenants: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()
    clusters: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    power_states: tuple[str, ...] = ()
    include_nodes: bool = True

    def params(self) -> dict[str, list[str]]:
        """The SQL parameters of the filter."""
        return {
            "tenants": list(self.tenants), "projects": list(self.projects), "clusters": list(self.clusters),
            "kinds": list(self.kinds), "power": list(self.power_states),
        }


@dataclass
class Host:
    """One inventory host: its name, its variables (plain JSON data) and its default groups."""

    name: str
    vars: dict[str, Any]
    groups: list[str] = field(default_factory=list)


@dataclass
class Inventory:
    """Hosts read from the database, and how many SQL statements reading them took."""

    hosts: list[Host]
    queries: int = 0

    def to_data(self) -> list[dict[str, Any]]:
        """Plain JSON-serialisable data (what an inventory cache stores)."""
        return [{"name": h.name, "vars": h.vars, "groups": h.groups} for h in self.hosts]


def user_vars(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec.configure.vars`` without connection settings: ``ansible_*`` keys are the operator's to choose.

    A guest owner must not be able to set e.g. ``ansible_ssh_common_args`` (a ProxyCommand runs on the
    control node) or ``ansible_connection: local``.
    """
    configure = spec.get("configure") or {}
    raw = configure.get("vars") or {}
    if not isinstance(raw, dict):
        return {}
    return {str(k): v for k, v in raw.items() if not str(k).startswith("ansible_")}


def proxmox_ostype(kind: str, image: str) -> str:
    """The Proxmox OS type of a guest made from ``image``: a container's distribution (``debian``, ...,
    ``unmanaged``), a VM's ``l26`` for a Linux image, ``win11``/``win10``/... for Windows, else ``other``."""
    name = image.rsplit("/", 1)[-1].lower()
    if kind == "container":
        return next((o for o in CONTAINER_OSTYPES if name.startswith(o)), "unmanaged")
    windows = next((ostype for prefix, ostype in WINDOWS_OSTYPES if name.startswith(prefix)), None)
    if windows:
        return windows
    return "l26" if name.startswith(LINUX_IMAGES) else "other"


def guests_sql(want_spec: bool) -> str:
    """The guests query: with every host's whole spec, or only the fields its default variables need."""
    spec = "g.spec" if want_spec else _picked("g.spec", SPEC_FIELDS)
    return GUESTS_SQL.format(spec=spec, status=_picked("g.status", STATUS_FIELDS))


def _guest_host(row: dict[str, Any], prefix: str, want_spec: bool) -> tuple[dict[str, Any], list[str]]:
    spec, status, labels = row["spec"] or {}, row["status"] or {}, row["labels"] or {}
    node = status.get("node") or (spec.get("node") if spec.get("node") not in (None, "auto") else None)
    tags = spec.get("tags") or status.get("tags") or []
    power = status.get("power") or "unknown"
    ours: dict[str, Any] = {
        "id": row["id"], "kind": row["kind"], "guest_name": row["name"], "vmid": status.get("vmid"), "node": node,
        "cluster": row["cluster"], "tenant": row["tenant"], "project": row["project"],
        "guest_tags": [str(t) for t in tags] if isinstance(tags, list) else [str(tags)], "labels": labels,
        "ostype": status.get("ostype") or proxmox_ostype(row["kind"], str(spec.get("image") or "")),
        "image": spec.get("image"), "power_state": power,
    }
    if want_spec:
        ours["spec"] = spec
    hostvars = user_vars(spec)
    hostvars.update({prefix + k: v for k, v in ours.items()})
    if status.get("ipv4"):
        hostvars["ansible_host"] = str(status["ipv4"]).split("/", 1)[0]
    groups = [
        f"cluster_{row['cluster']}" if row["cluster"] else "",
        f"node_{node}" if node else "",
        f"tenant_{row['tenant']}",
        f"project_{row['tenant']}_{row['project']}",
        KIND_GROUPS[row["kind"]],
        f"power_{power}",
        *(f"tag_{t}" for t in ours["guest_tags"]),
        *(f"label_{k}_{v}" for k, v in labels.items()),
    ]
    return hostvars, [safe_group_name(g) for g in groups if g]


def _node_host(row: dict[str, Any], prefix: str) -> tuple[dict[str, Any], list[str]]:
    hostvars = {
        prefix + "kind": "node", prefix + "node": row["name"],
        prefix + "cluster": row["cluster"], prefix + "node_status": row["status"], prefix + "cpus": row["cpus"],
        prefix + "memory_total_mb": row["memory_total_mb"], prefix + "memory_used_mb": row["memory_used_mb"],
    }
    return hostvars, [NODES_GROUP, safe_group_name(f"cluster_{row['cluster']}")]


def _name_hosts(guests: list[dict[str, Any]], nodes: list[dict[str, Any]], hostnames: str) -> list[str]:
    """Inventory names: guests ``name.project.tenant`` (or just ``name`` when unique and asked for), nodes
    ``node`` (``node.cluster`` when two clusters share a node name)."""
    short = [g["name"] for g in guests] if hostnames == "short" else []
    counts = Counter(short + [n["name"] for n in nodes])
    names = []
    for g in guests:
        qualified = f"{g['name']}.{g['project']}.{g['tenant']}"
        names.append(g["name"] if hostnames == "short" and counts[g["name"]] == 1 else qualified)
    names += [n["name"] if counts[n["name"]] == 1 else f"{n['name']}.{n['cluster']}" for n in nodes]
    return names


def _plain_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _enter_tenant(conn: psycopg.Connection, source: InventorySource, tenant: str) -> int:
    """Act as the application role in ``tenant`` for this transaction; returns the statements it took.

    The tenant scope is a claim signed with the key only the owner role reads, so the connection reads
    the key first and then becomes the application role (Row-Level Security applies from there on).
    """
    try:
        key_row = conn.execute("SELECT key FROM cp_claim_key WHERE id = 1").fetchone()
    except psycopg.errors.InsufficientPrivilege as exc:
        raise PermanentError("with a tenant, the inventory needs the owner role's URL: it signs the tenant's "
                             "claim, then acts as the application role", component="postgresql") from exc
    if key_row is None:
        raise PermanentError("the database has no claim key (run `controlplane db upgrade`)", component="postgresql")
    key, pid = ClaimKey(bytes(key_row[0])), conn.info.backend_pid
    if source.set_app_role:
        conn.execute(f'SET LOCAL ROLE "{APP_ROLE}"')
    # Finding a tenant by name is itself a read across tenants: done explicitly as the system role.
    row = conn.execute(
        "SELECT set_config(%(name)s, %(claim)s, true), "
        "(SELECT id::text FROM tenants WHERE name = %(t)s OR id::text = %(t)s)",
        {"t": tenant, "name": CLAIM_SETTING, "claim": sign_claim(key, "system", None, None, pid)},
    ).fetchone()
    if row is None or row[1] is None:
        raise NotFound(f"no tenant named {tenant!r}")
    conn.execute("SELECT set_config(%s, %s, true)",
                 (CLAIM_SETTING, sign_claim(key, "manager", UUID(row[1]), None, pid)))
    return 4 if source.set_app_role else 3


def load_inventory(
    source: InventorySource,
    *,
    tenant: str | None = None,
    filters: InventoryFilter = InventoryFilter(),
    hostnames: str = "qualified",
    vars_prefix: str = "",
    want_spec: bool = False,
) -> Inventory:
    """Read every host in a fixed number of SQL statements (two, plus up to four to enter a tenant); with
    ``want_spec`` each guest's whole spec is a variable (``spec``) too."""
    queries = 0
    try:
        with psycopg.connect(_plain_url(source.url), connect_timeout=10) as conn:
            conn.read_only = True
            with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
                if tenant:
                    queries += _enter_tenant(conn, source, tenant)
                guests = cur.execute(guests_sql(want_spec), filters.params()).fetchall()
                nodes = []
                if filters.include_nodes:
                    nodes = cur.execute(NODES_SQL, {"clusters": list(filters.clusters)}).fetchall()
                queries += 1 + bool(filters.include_nodes)
    except psycopg.errors.InsufficientPrivilege as exc:
        raise PermanentError(f"the inventory's database role may not do this: {exc}", component="postgresql") from exc
    except psycopg.OperationalError as exc:
        raise TemporaryError(f"cannot read the inventory database: {exc}", component="postgresql") from exc
    except psycopg.Error as exc:
        raise ComponentError(f"inventory query failed: {exc}", component="postgresql") from exc
    names = _name_hosts(guests, nodes, hostnames)
    built = [_guest_host(g, vars_prefix, want_spec) for g in guests] + [_node_host(n, vars_prefix) for n in nodes]
    return Inventory([Host(n, v, g) for n, (v, g) in zip(names, built, strict=True)], queries)


def script_json(inventory: Inventory) -> dict[str, Any]:
    """The ``--list`` JSON of a script inventory, shaped like ``ansible-inventory --list`` prints it."""
    groups: dict[str, list[str]] = {}
    ungrouped = []
    for host in inventory.hosts:
        for group in host.groups:
            groups.setdefault(group, []).append(host.name)
        if not host.groups:
            ungrouped.append(host.name)
    out: dict[str, Any] = {"_meta": {"hostvars": {h.name: h.vars for h in inventory.hosts}}}
    out["all"] = {"children": ["ungrouped", *sorted(groups)]}
    for group in sorted(groups):
        out[group] = {"hosts": groups[group]}
    if ungrouped:
        out["ungrouped"] = {"hosts": ungrouped}
    return out


def host_json(inventory: Inventory, name: str) -> dict[str, Any]:
    """The ``--host NAME`` JSON: that host's variables; NotFound when there is no such host."""
    for host in inventory.hosts:
        if host.name == name:
            return host.vars
    raise NotFound(f"no host named {name!r} in the inventory")
