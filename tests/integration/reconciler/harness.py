"""Shared pieces of the reconciler's tests: a registered cluster (row + token secret in Vault, exactly as
registration stores them), a tenant and project, guests written as the API writes them, a worker started
in-process, and readers of objects, runs and logs.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from controlplane.db.engine import create_app_engine
from controlplane.pvesim import Simulator
from controlplane.reconciler.context import RunContext
from controlplane.reconciler.kinds import KINDS
from controlplane.reconciler.store import FINALIZER, system_tx
from controlplane.reconciler.terraform_run import TerraformSetup
from controlplane.reconciler.worker import Worker, WorkerConfig, make_holder
from controlplane.util.net import wait_for
from tests.fixtures.conditions import condition
from tests.fixtures.pvesim import proxmox_client
from tests.fixtures.reconciler import terraform_setup, worker_pace

VM = "VirtualMachine"
CT = "Container"
proxmox = proxmox_client  # a proxmoxer client on the simulator, to look at what the reconciler did


@dataclass
class World:
    """One test's control plane: engine, Vault, OpenTofu setup, a cluster and a project."""

    engine: Engine
    vault: Any
    terraform: TerraformSetup
    data_dir: Path
    owner_url: str
    cluster_id: UUID
    tenant_id: UUID
    project_id: UUID

    def context(self) -> RunContext:
        """A run context for a new worker."""
        return RunContext(engine=self.engine, vault=self.vault, terraform=self.terraform, data_dir=self.data_dir,
                          holder=make_holder())

    @contextmanager
    def worker(self, concurrency: int = 2, **config: Any) -> Iterator[Worker]:
        """A running in-process worker, stopped afterwards."""
        worker = Worker(self.context(), WorkerConfig(concurrency=concurrency, **worker_pace(**config))).start()
        try:
            yield worker
        finally:
            worker.stop()


def register_cluster(engine: Engine, vault: Any, sim: Simulator, name: str = "demo") -> UUID:
    """Store the simulator as a cluster the way registration does: secret in Vault, path in the row."""
    path = f"controlplane/clusters/{name}-{uuid.uuid4().hex[:6]}"
    vault.write(path, {"token_id": sim.token_id, "token_secret": sim.token_secret})
    with system_tx(engine) as conn:
        return conn.execute(sa.text(
            "INSERT INTO clusters (name, endpoint, token_id, secret_path, verify_tls, ca_cert) "
            "VALUES (:n, :e, :t, :p, true, :ca) RETURNING id"),
            {"n": name, "e": sim.url, "t": sim.token_id, "p": path, "ca": Path(sim.ca_file).read_text()},
        ).scalar_one()


def make_world(database: Any, vault: Any, toolchain: Any, sim: Simulator, tmp_path: Path) -> World:
    """Engine, cluster, tenant and project for one test."""
    engine = create_app_engine(database.app, database.owner, pool_size=10)
    setup = terraform_setup(toolchain, database.owner, tmp_path / "runs")
    cluster_id = register_cluster(engine, vault, sim)
    with system_tx(engine) as conn:
        tenant = conn.execute(sa.text("INSERT INTO tenants (name) VALUES ('acme') RETURNING id")).scalar_one()
        project = conn.execute(sa.text("INSERT INTO projects (tenant_id, name) VALUES (:t, 'shop') RETURNING id"),
                               {"t": tenant}).scalar_one()
    return World(engine, vault, setup, tmp_path / "data", database.owner, cluster_id, tenant, project)


def spec_of(kind: str, **overrides: Any) -> dict[str, Any]:
    """A small valid spec (what the API stores after validation)."""
    spec: dict[str, Any] = {"cluster": "demo", "node": "auto", "cores": 1, "memory_mb": 512,
                            "disks": [{"size_gb": 4, "storage": "local-lvm"}],
                            "image": "debian-12", "network": [{"bridge": "vmbr0", "ipv4": "dhcp"}],
                            "ssh_keys": [], "power": "running", "configure": None}
    spec.update(overrides)
    return spec


def create_guest(world: World, kind: str, name: str, labels: dict[str, str] | None = None, **spec: Any) -> UUID:
    """Insert a guest as the API's create does (spec, finalizer, generation 1)."""
    table = KINDS[kind].table
    with system_tx(world.engine) as conn:
        return conn.execute(sa.text(
            f"INSERT INTO {table} (tenant_id, project_id, cluster_id, name, labels, spec, finalizers) "
            "VALUES (:t, :p, :c, :n, CAST(:l AS jsonb), CAST(:s AS jsonb), :f) RETURNING id"),
            {"t": world.tenant_id, "p": world.project_id, "c": world.cluster_id, "n": name,
             "l": json.dumps(labels or {}), "s": json.dumps(spec_of(kind, **spec)), "f": [FINALIZER]},
        ).scalar_one()


def update_spec(world: World, kind: str, guest_id: UUID, **changes: Any) -> None:
    """Merge ``changes`` into the spec and bump generation, as the API's patch does."""
    with system_tx(world.engine) as conn:
        conn.execute(sa.text(
            f"UPDATE {KINDS[kind].table} SET spec = spec || CAST(:c AS jsonb), generation = generation + 1, "
            "resource_version = resource_version + 1 WHERE id = :id"), {"c": json.dumps(changes), "id": guest_id})


def request_delete(world: World, kind: str, guest_id: UUID) -> None:
    """Mark the guest deleted, as the API's delete does."""
    with system_tx(world.engine) as conn:
        conn.execute(sa.text(f"UPDATE {KINDS[kind].table} SET deleted_at = now(), "
                             "resource_version = resource_version + 1 WHERE id = :id"), {"id": guest_id})


def guest(world: World, kind: str, guest_id: UUID) -> dict[str, Any] | None:
    """The guest's row as a dict (None when removed)."""
    with system_tx(world.engine) as conn:
        row = conn.execute(sa.text(f"SELECT * FROM {KINDS[kind].table} WHERE id = :id"), {"id": guest_id})
        found = row.mappings().first()
    return dict(found) if found else None


def wait_ready(world: World, kind: str, guest_id: UUID, *, generation: int | None = None,
               timeout: float = 120.0) -> dict[str, Any]:
    """Wait until the guest is Ready at ``generation`` (default: its current one)."""
    def ready() -> dict[str, Any] | None:
        row = guest(world, kind, guest_id)
        assert row is not None, "the guest row disappeared"
        wanted = generation or row["generation"]
        ok = row["observed_generation"] >= wanted and condition(row, "Ready").get("status") == "True"
        return row if ok else None
    try:
        return wait_for(ready, timeout=timeout, interval=0.2, what=f"{kind} {guest_id} to be Ready")
    except TimeoutError as exc:
        row = guest(world, kind, guest_id) or {}
        runs = [(r["action"], r["state"], r["attempt"], (r["error"] or "")[:300]) for r in runs_of(world, guest_id)]
        raise AssertionError(f"{exc}\nconditions: {row.get('conditions')}\nruns: {runs[-5:]}") from exc


def runs_of(world: World, guest_id: UUID | None = None) -> list[dict[str, Any]]:
    """Run records (of one guest, or all), oldest first."""
    where = "WHERE target_id = :id" if guest_id else ""
    with system_tx(world.engine) as conn:
        rows = conn.execute(sa.text(f"SELECT * FROM runs {where} ORDER BY started_at"), {"id": guest_id})
        return [dict(r) for r in rows.mappings()]


def log_of(world: World, run_id: UUID) -> list[dict[str, Any]]:
    """A run's log lines in order."""
    with system_tx(world.engine) as conn:
        rows = conn.execute(sa.text("SELECT * FROM run_log_entries WHERE run_id = :id ORDER BY seq"), {"id": run_id})
        return [dict(r) for r in rows.mappings()]


def act(world: World, kind: str, guest_id: UUID, action: str) -> None:
    """A power action as the API records it: desired power in the spec (new generation) plus an action row."""
    power = {"start": "running", "stop": "stopped", "shutdown": "stopped"}.get(action)
    with system_tx(world.engine) as conn:
        if power is not None:
            conn.execute(sa.text(
                f"UPDATE {KINDS[kind].table} SET spec = spec || jsonb_build_object('power', CAST(:p AS text)), "
                "generation = generation + 1 WHERE id = :id AND spec->>'power' <> :p"), {"p": power, "id": guest_id})
        conn.execute(sa.text("INSERT INTO guest_actions (tenant_id, target_kind, target_id, action) "
                             "VALUES (:t, :k, :id, :a)"),
                     {"t": world.tenant_id, "k": kind, "id": guest_id, "a": action})


def workspaces(world: World) -> set[str]:
    """Workspaces with state in the pg backend."""
    import psycopg

    with psycopg.connect(world.owner_url) as conn:
        if not conn.execute("SELECT to_regclass('terraform_remote_state.states')").fetchone()[0]:
            return set()
        return {r[0] for r in conn.execute("SELECT name FROM terraform_remote_state.states")}
