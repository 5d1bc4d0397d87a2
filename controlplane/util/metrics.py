"""The Prometheus metrics this process records (prometheus-client, default registry).

The reconciler's metrics carry the names controller-runtime made familiar (``workqueue_*``,
``controller_runtime_reconcile_*``); ours start with ``controlplane_``. Counters and histograms live in the
process that does the work: the API process serves them on ``/metrics``; a ``controlplane worker`` process
serves its own on the metrics port. Counts taken from the database at scrape time (queue depth, leases,
guests) are added by the scraping endpoint, see :mod:`controlplane.api.metrics`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

disable_created_metrics()  # no ``*_created`` series: they double every scrape and nobody graphs them

HTTP_REQUESTS = Counter(
    "controlplane_http_requests_total", "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "controlplane_http_request_duration_seconds", "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
)
WORKQUEUE_ADDS = Counter("workqueue_adds_total", "Objects this worker took from the queue.", ["name"])
WORKQUEUE_RETRIES = Counter("workqueue_retries_total", "Objects taken again after a failed attempt.", ["name"])
WORKQUEUE_WORK_DURATION = Histogram(
    "workqueue_work_duration_seconds", "Time one reconcile of one object took.", ["name"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)
RECONCILE_TOTAL = Counter(
    "controller_runtime_reconcile_total", "Reconciles by controller (object kind) and result.",
    ["controller", "result"],
)
RECONCILE_ERRORS = Counter(
    "controller_runtime_reconcile_errors_total", "Reconciles that ended in an error, by controller.", ["controller"]
)
TOOL_RUN_DURATION = Histogram(
    "controlplane_tool_run_duration_seconds", "OpenTofu commands and Ansible playbook runs, by tool, command "
    "and outcome.", ["tool", "command", "outcome"],
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)
CLUSTER_LAST_RESYNC = Gauge(
    "controlplane_cluster_last_resync_timestamp_seconds", "Unix time of the last successful observation of a "
    "cluster by this process.", ["cluster_id"],
)

RESULTS = {"succeeded": "success", "failed": "error", "cancelled": "requeue", "gone": "success"}
"""A run's final state as a controller-runtime ``result`` label."""


def record_reconcile(kind: str, state: str, seconds: float, *, retry: bool) -> None:
    """Count one finished reconcile of a ``kind`` object that ended in ``state`` after ``seconds``."""
    result = RESULTS.get(state, "error")
    WORKQUEUE_WORK_DURATION.labels(kind).observe(seconds)
    RECONCILE_TOTAL.labels(kind, result).inc()
    if result == "error":
        RECONCILE_ERRORS.labels(kind).inc()
    if retry:
        WORKQUEUE_RETRIES.labels(kind).inc()


class ToolOutcome:
    """What a timed tool run ended with; ``failed()`` marks it, an exception makes it ``error``."""

    def __init__(self) -> None:
        self.value = "succeeded"

    def failed(self, value: str = "failed") -> None:
        """Mark the run as not successful."""
        self.value = value


@contextmanager
def timed_tool(tool: str, command: str) -> Iterator[ToolOutcome]:
    """Observe the duration and outcome of one run of ``tool`` (``opentofu`` or ``ansible``)."""
    outcome = ToolOutcome()
    started = time.monotonic()
    try:
        yield outcome
    except BaseException:
        outcome.failed("error")
        raise
    finally:
        TOOL_RUN_DURATION.labels(tool, command, outcome.value).observe(time.monotonic() - started)
