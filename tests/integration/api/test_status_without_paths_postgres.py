"""What a guest's status shows of a failure never names the server's file system: a run directory in the
reconciler's last error or a condition message reaches the client as ``<path>`` (Proxmox API paths stay).
Real PostgreSQL and OpenBao behind the app."""

from __future__ import annotations

import sqlalchemy as sa

from controlplane.db.engine import RequestContext, session_scope
from controlplane.models import tables as t
from tests.fixtures.api import World


def test_status_errors_name_no_host_path(world: World) -> None:
    vm = world.acme.member.post("/api/v1/vms", json=world.vm_doc("failing")).json()
    run_dir = "/var/lib/controlplane/runs/7f3a/main.tf.json"
    vms = t.virtual_machines
    with session_scope(world.api.engine, RequestContext(role="admin")) as session:
        session.execute(sa.update(vms).where(vms.c.id == vm["id"]).values(
            status={"last_error": f"Error: Invalid function argument on {run_dir} line 12 (GET /api2/json/nodes)"},
            conditions=[{"type": "Ready", "status": "False", "reason": "PlanFailed",
                         "message": f"plan failed in {run_dir}"}],
        ))
    for doc in (world.acme.member.get(f"/api/v1/vms/{vm['id']}").json(),
                next(g for g in world.acme.member.get("/api/v1/vms").json()["items"] if g["id"] == vm["id"])):
        assert "/var/lib" not in str(doc)
        shown = doc["status"]["last_error"]
        assert shown == "Error: Invalid function argument on <path> line 12 (GET /api2/json/nodes)"
        assert doc["status"]["conditions"][0]["message"] == "plan failed in <path>"
