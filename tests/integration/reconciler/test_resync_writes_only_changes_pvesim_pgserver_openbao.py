"""A cluster resync writes only the guests whose observed state changed: a resync of unchanged guests leaves
every guest row as it was (same ``xmin``, the transaction that last wrote it) and stamps only the cluster's
``status.observed_at``; a guest stopped out of band is the one row written. Real PostgreSQL, OpenBao, pvesim;
no OpenTofu (the guests are seeded as a converge leaves them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import requests
import sqlalchemy as sa

from controlplane.models import tables as t
from controlplane.reconciler.conditions import PROVISIONED, READY, set_condition
from controlplane.reconciler.kinds import KINDS
from controlplane.reconciler.observe import resync_cluster
from controlplane.reconciler.store import FINALIZER, system_tx
from tests.fixtures.conditions import condition
from tests.integration.reconciler.harness import VM, Rig, guest, spec_of

GUESTS = 10


def _seed(world: Rig, sim: Any) -> dict[int, UUID]:
    """Every VM of the simulator as a converged managed object (spec as the cluster has it, Ready)."""
    resp = requests.get(sim.api_url + "/cluster/resources?type=vm", headers={"Authorization": sim.auth_header},
                        verify=sim.ca_file, timeout=30)
    resp.raise_for_status()
    conditions = set_condition(set_condition([], PROVISIONED, True, "Applied", ""), READY, True, "Reconciled", "")
    g = KINDS[VM].rows
    ids = {}
    with system_tx(world.engine) as conn:
        for seen in (r for r in resp.json()["data"] if r["type"] == "qemu"):
            power = "running" if seen["status"] == "running" else "stopped"
            spec = spec_of(VM, node=seen["node"], cores=int(seen["maxcpu"]), memory_mb=int(seen["maxmem"]) // 2**20,
                           power=power)
            ids[int(seen["vmid"])] = conn.execute(sa.insert(g).values(
                tenant_id=world.tenant_id, project_id=world.project_id, cluster_id=world.cluster_id,
                name=seen["name"], spec=spec, status={"vmid": int(seen["vmid"]), "node": seen["node"], "power": power},
                conditions=conditions, finalizers=[FINALIZER], generation=1, observed_generation=1,
            ).returning(g.c.id)).scalar_one()
    return ids


def _row_versions(world: Rig) -> dict[UUID, str]:
    """Each VM row's ``xmin``: it moves exactly when the row is written."""
    with system_tx(world.engine) as conn:
        return dict(conn.execute(sa.text("SELECT id, xmin::text FROM virtual_machines WHERE cluster_id = :c"),
                                 {"c": world.cluster_id}).all())


def _cluster_observation(world: Rig) -> tuple[str, str | None]:
    """The cluster row's ``xmin`` and its ``status.observed_at``."""
    with system_tx(world.engine) as conn:
        row = conn.execute(sa.select(sa.text("xmin::text"), t.clusters.c.status)
                           .where(t.clusters.c.id == world.cluster_id)).one()
    return row[0], row[1].get("observed_at")


def test_unchanged_guests_are_not_written(make_rig, pvesim_factory, tmp_path: Path) -> None:
    sim = pvesim_factory(nodes=1, guests=GUESTS, task_seconds=0, seed=3)
    world = make_rig(sim)
    try:
        ids = _seed(world, sim)
        assert len(ids) >= 2, ids
        ctx = world.context()
        resync_cluster(ctx, world.cluster_id)  # the first takes the usage figures the seed left out
        before, (cluster_version, stamp) = _row_versions(world), _cluster_observation(world)
        assert stamp is not None

        report = resync_cluster(ctx, world.cluster_id)
        assert report.guests == len(ids) and report.drifted == 0
        assert _row_versions(world) == before, "a resync of unchanged guests wrote a guest row"
        version, observed_at = _cluster_observation(world)
        assert version != cluster_version and observed_at is not None and observed_at >= stamp, \
            "the resync did not stamp the cluster's observation time"

        running = next(v for v, i in ids.items() if guest(world, VM, i)["status"]["power"] == "running")
        sim.state.stop_guest(running)
        report = resync_cluster(ctx, world.cluster_id)
        after = _row_versions(world)
        assert {i for i in after if after[i] != before[i]} == {ids[running]}
        row = guest(world, VM, ids[running])
        assert row["status"]["power"] == "stopped" and condition(row, "Drifted")["status"] == "True"
        assert report.drifted == 1
    finally:
        world.engine.dispose()
