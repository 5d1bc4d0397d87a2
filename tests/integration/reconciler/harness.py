"""Shared pieces of the reconciler's tests: the ``make_rig`` fixture (a cluster, tenant and project seeded
through ``services`` as the API seeds them; its engine disposed at teardown), guests written as the API
writes them, a worker started in-process, and readers of objects, runs and logs. Every other statement goes
through the Core tables of ``controlplane.models.tables`` (the schema the migrations build), and every write
bumps what the API's writes bump.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine

from controlplane.db.engine import RequestContext, create_app_engine, session_scope
from controlplane.drivers.proxmox_probe import probe
from controlplane.models import tables as t
from controlplane.models.tenancy import ProjectCreate, TenantCreate
from controlplane.pvesim import Simulator
from controlplane.reconciler.context import RunContext
from controlplane.reconciler.kinds import KINDS
from controlplane.reconciler.store import FINALIZER, system_tx
from controlplane.reconciler.terraform_run import TerraformSetup
from controlplane.reconciler.worker import Worker, WorkerConfig, make_holder
from controlplane.services import bootstrap, projects, tenants
from controlplane.services.caller import Caller
from controlplane.util.net import wait_for
from tests.fixtures.conditions import condition
from tests.fixtures.pvesim import proxmox_client
from tests.fixtures.reconciler import terraform_setup, worker_pace

VM = "VirtualMachine"
CT = "Container"
proxmox = proxmox_client  # a proxmoxer client on the simulator, to look at what the reconciler did


@dataclass
class Rig:
    """One test's reconciler rig: engine, Vault, OpenTofu setup, a cluster and a project (the API tests'
    two-tenant world is ``tests.fixtures.api.World``; this one drives the worker directly)."""

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


OPERATOR = Caller(user_id=None, tenant_id=None, role="admin", email="operator")


def register_cluster(engine: Engine, vault: Any, sim: Simulator, name: str = "demo") -> UUID:
    """Register the simulator as a cluster through the registration use case (connection test, secret in
    Vault, nodes recorded), as ``POST /api/v1/clusters`` and ``controlplane up`` do."""
    return bootstrap.register_cluster(
        engine, vault, name, sim.url, sim.token_id, sim.token_secret, ca_cert_pem=Path(sim.ca_file).read_text(),
        verify_tls=True, prober=probe)["id"]


def new_rig(database: Any, vault: Any, toolchain: Any, sim: Simulator, tmp_path: Path) -> Rig:
    """Engine, cluster, tenant and project over ``database``, seeded through ``services`` as the API seeds
    them (the caller disposes ``rig.engine``; tests use the ``make_rig`` fixture, which does)."""
    engine = create_app_engine(database.app, database.owner, pool_size=10)
    setup = terraform_setup(toolchain, database.owner, tmp_path / "runs")
    cluster_id = register_cluster(engine, vault, sim)
    with session_scope(engine, RequestContext(role="admin")) as session:
        tenant = tenants.create(session, OPERATOR, TenantCreate(name="acme"))
        project = projects.create(session, OPERATOR, ProjectCreate(name="shop", tenant_id=tenant.id))
    return Rig(engine, vault, setup, tmp_path / "data", database.owner, cluster_id, tenant.id, project.id)


@pytest.fixture
def make_rig(database: Any, vault: Any, toolchain: Any, tmp_path: Path) -> Iterator[Callable[[Simulator], Rig]]:
    """Build the reconciler rig of this test over ``sim`` (its engine is disposed at teardown)."""
    engines: list[Engine] = []

    def build(sim: Simulator) -> Rig:
        rig = new_rig(database, vault, toolchain, sim, tmp_path)
        engines.append(rig.engine)
        return rig

    yield build
    for engine in engines:
        engine.dispose()


def _bumped(g: sa.Table, *, generation: bool = False) -> dict[str, Any]:
    """What every write of the API bumps: ``resource_version`` and ``updated_at`` (``generation`` with a spec
    change), as ``controlplane.services.guests`` does."""
    values: dict[str, Any] = {"resource_version": g.c.resource_version + 1, "updated_at": sa.func.now()}
    if generation:
        values["generation"] = g.c.generation + 1
    return values


def spec_of(kind: str, **overrides: Any) -> dict[str, Any]:
    """A small valid spec (what the API stores after validation)."""
    spec: dict[str, Any] = {"cluster": "demo", "node": "auto", "cores": 1, "memory_mb": 512,
                            "disks": [{"size_gb": 4, "storage": "local-lvm"}],
                            "image": "debian-12", "network": [{"bridge": "vmbr0", "ipv4": "dhcp"}],
                            "ssh_keys": [], "power": "running", "configure": None}
    spec.update(overrides)
    return spec


def create_guest(world: Rig, kind: str, name: str, labels: dict[str, str] | None = None, **spec: Any) -> UUID:
    """Insert a guest as the API's create does (spec, finalizer, generation 1)."""
    g = KINDS[kind].rows
    with system_tx(world.engine) as conn:
        return conn.execute(sa.insert(g).values(
            tenant_id=world.tenant_id, project_id=world.project_id, cluster_id=world.cluster_id, name=name,
            labels=labels or {}, spec=spec_of(kind, **spec), finalizers=[FINALIZER]).returning(g.c.id)).scalar_one()


def update_spec(world: Rig, kind: str, guest_id: UUID, **changes: Any) -> None:
    """Merge ``changes`` into the spec and bump generation, as the API's patch does."""
    g = KINDS[kind].rows
    with system_tx(world.engine) as conn:
        conn.execute(sa.update(g).where(g.c.id == guest_id).values(
            spec=g.c.spec.op("||")(sa.cast(changes, JSONB)), **_bumped(g, generation=True)))


def request_delete(world: Rig, kind: str, guest_id: UUID) -> None:
    """Mark the guest deleted, as the API's delete does."""
    g = KINDS[kind].rows
    with system_tx(world.engine) as conn:
        conn.execute(sa.update(g).where(g.c.id == guest_id).values(deleted_at=sa.func.now(), **_bumped(g)))


def guest(world: Rig, kind: str, guest_id: UUID) -> dict[str, Any] | None:
    """The guest's row as a dict (None when removed)."""
    g = KINDS[kind].rows
    with system_tx(world.engine) as conn:
        found = conn.execute(sa.select(g).where(g.c.id == guest_id)).mappings().first()
    return dict(found) if found else None


def wait_ready(world: Rig, kind: str, guest_id: UUID, *, generation: int | None = None,
               timeout: float = 120.0) -> dict[str, Any]:
    """Wait until the guest is Ready at ``generation`` (default: its current one)."""
    def ready() -> dict[str, Any] | None:
        row = guest(world, kind, guest_id)
        assert row is not None, "the guest row disappeared"
        assert "conditions" not in row["status"], "conditions are stored in their column only"
        wanted = generation or row["generation"]
        ok = row["observed_generation"] >= wanted and condition(row, "Ready").get("status") == "True"
        return row if ok else None
    try:
        return wait_for(ready, timeout=timeout, interval=0.2, what=f"{kind} {guest_id} to be Ready")
    except TimeoutError as exc:
        row = guest(world, kind, guest_id) or {}
        runs = [(r["action"], r["state"], r["attempt"], (r["error"] or "")[:300]) for r in runs_of(world, guest_id)]
        raise AssertionError(f"{exc}\nconditions: {row.get('conditions')}\nruns: {runs[-5:]}") from exc


def runs_of(world: Rig, guest_id: UUID | None = None) -> list[dict[str, Any]]:
    """Run records (of one guest, or all), oldest first."""
    query = sa.select(t.runs).order_by(t.runs.c.started_at)
    if guest_id:
        query = query.where(t.runs.c.target_id == guest_id)
    with system_tx(world.engine) as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def log_of(world: Rig, run_id: UUID) -> list[dict[str, Any]]:
    """A run's log lines in order."""
    log = t.run_log_entries
    with system_tx(world.engine) as conn:
        rows = conn.execute(sa.select(log).where(log.c.run_id == run_id).order_by(log.c.seq))
        return [dict(r) for r in rows.mappings()]


def act(world: Rig, kind: str, guest_id: UUID, action: str) -> None:
    """A power action as the API records it: desired power in the spec (new generation) plus an action row."""
    power = {"start": "running", "stop": "stopped", "shutdown": "stopped"}.get(action)
    g = KINDS[kind].rows
    with system_tx(world.engine) as conn:
        if power is not None:
            conn.execute(sa.update(g).where(g.c.id == guest_id, g.c.spec["power"].astext != power).values(
                spec=g.c.spec.op("||")(sa.func.jsonb_build_object("power", power)), **_bumped(g, generation=True)))
        conn.execute(sa.insert(t.guest_actions).values(
            tenant_id=world.tenant_id, target_kind=kind, target_id=guest_id, action=action))


def workspaces(world: Rig) -> set[str]:
    """Workspaces with state in the pg backend."""
    import psycopg

    with psycopg.connect(world.owner_url) as conn:
        if not conn.execute("SELECT to_regclass('terraform_remote_state.states')").fetchone()[0]:
            return set()
        return {r[0] for r in conn.execute("SELECT name FROM terraform_remote_state.states")}
