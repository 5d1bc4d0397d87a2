"""``/metrics`` after a guest was created through the API and reconciled by a worker (real PostgreSQL, OpenBao,
OpenTofu + bpg, pvesim): request counts by route template, reconcile and workqueue counters, OpenTofu run
durations, guests by power state and Ready, the cluster's last resync; 401 without the token; on a metrics
port of its own, served without a token and absent from the API port."""

from __future__ import annotations

from pathlib import Path

import httpx
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from controlplane.reconciler.store import system_tx
from controlplane.util.net import free_port, wait_for
from tests.fixtures.api import build_api, seed_user
from tests.integration.reconciler.harness import VM, wait_ready

TOKEN = "scrape-token-for-tests-0123456789"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape, keyed by name and labels."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(scraped: dict, metric: str, **labels: str) -> float:
    """The sum of the samples named ``metric`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in scraped.items() if n == metric and wanted <= ls)


def test_metrics_after_a_guest_is_created_and_reconciled(make_rig, database, vault, pvesim_factory,
                                                         tmp_path: Path) -> None:
    sim = pvesim_factory(nodes=1, task_seconds=0)
    world = make_rig(sim)
    api = build_api(database, vault, metrics_token=TOKEN)
    seed_user(api.engine, "admin@example.test", "admin")
    admin = api.login("admin@example.test")
    created = admin.post("/api/v1/vms", json={
        "apiVersion": "controlplane/v1", "kind": "VirtualMachine",
        "metadata": {"name": "metered", "project_id": str(world.project_id)},
        "spec": {"cluster": "demo", "cores": 1, "memory_mb": 512, "disks": [{"size_gb": 4, "storage": "local-lvm"}],
                 "image": "debian-12", "network": [{"bridge": "vmbr0", "ipv4": "dhcp"}], "power": "running"},
    })
    assert created.status_code == 201, created.text
    with world.worker(concurrency=1) as worker:
        wait_ready(world, VM, created.json()["id"])
        wait_for(lambda: worker.resyncs, timeout=60, what="a cluster resync")

    assert api.client().get("/metrics").status_code == 401
    assert api.client("wrong-token").get("/metrics").status_code == 401
    response = api.client(TOKEN).get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    scraped = samples(response.text)

    assert value(scraped, "controlplane_http_requests_total", method="POST", route="/api/v1/vms", status="201") >= 1
    assert value(scraped, "controlplane_http_request_duration_seconds_count", route="/api/v1/vms") >= 1
    assert not any(n == "controlplane_http_requests_total" and ("route", f"/api/v1/vms/{created.json()['id']}") in ls
                   for n, ls in scraped), "raw paths must not become labels"
    assert value(scraped, "controller_runtime_reconcile_total", controller=VM, result="success") >= 1
    assert value(scraped, "workqueue_adds_total", name=VM) >= 1
    assert value(scraped, "workqueue_work_duration_seconds_count", name=VM) >= 1
    assert ("controller_runtime_reconcile_errors_total", frozenset()) not in scraped  # labelled by controller only
    assert value(scraped, "controlplane_tool_run_duration_seconds_count", tool="opentofu", command="apply",
                 outcome="succeeded") >= 1
    assert value(scraped, "controlplane_guests", kind=VM, power="running", ready="True") == 1
    assert value(scraped, "controlplane_guests", kind=VM, ready="False") == 0
    assert value(scraped, "workqueue_depth", name=VM) == 0
    assert value(scraped, "controlplane_leases_held", kind=VM) == 0
    assert value(scraped, "controlplane_cluster_last_resync_timestamp_seconds", cluster_id=str(world.cluster_id)) > 0

    with system_tx(world.engine) as conn:  # another worker holds one object, a second one waits for a worker
        conn.execute(sa.text(
            "INSERT INTO work_leases (object_kind, object_id, tenant_id, holder, expires_at) VALUES "
            "(:k, gen_random_uuid(), :t, 'elsewhere:1:x', now() + interval '1 minute'), "
            "(:k, gen_random_uuid(), :t, NULL, NULL)"), {"k": VM, "t": world.tenant_id})
    again = samples(api.client(TOKEN).get("/metrics").text)
    assert value(again, "controlplane_leases_held", kind=VM) == 1
    assert value(again, "workqueue_depth", name=VM) == 1
    api.engine.dispose()
    world.engine.dispose()


def test_metrics_on_their_own_port_need_no_token_and_leave_the_api_port(database, vault) -> None:
    from controlplane.api.metrics import serve_metrics_port

    port = free_port()
    api = build_api(database, vault, metrics_token=TOKEN, metrics_port=port)
    assert api.client(TOKEN).get("/metrics").status_code == 404
    server = serve_metrics_port(api.deps.settings, api.engine)
    assert server is not None
    try:
        scrape = wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5), timeout=30,
                          what="the metrics port")
    finally:
        server.shutdown()
        server.server_close()
    assert scrape.status_code == 200
    assert "controlplane_http_requests_total" in scrape.text and "controlplane_guests" in scrape.text
    api.engine.dispose()
