"""``/metrics`` in the Prometheus text format, never public by default.

- With ``metrics_port`` set, the metrics are served on that port alone (bind address ``http_host``; keep it
  off the public network) and the API's ``/metrics`` answers 404.
- Otherwise the API's ``/metrics`` wants ``Authorization: Bearer <metrics_token>``; without a configured
  token nobody can scrape it (401 that says which setting to set).

Each scrape adds counts taken from the database at that moment (see
:mod:`controlplane.services.fleet_counts`) to this process's counters and histograms
(:mod:`controlplane.util.metrics`). HTTP requests are counted by route template, never by raw path.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator
from typing import Any
from wsgiref.simple_server import WSGIServer

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy.engine import Engine

from controlplane.config import Settings, env_name
from controlplane.services.fleet_counts import fleet_counts
from controlplane.util import logs
from controlplane.util.metrics import HTTP_DURATION, HTTP_REQUESTS

access_log = logging.getLogger("controlplane.http")
"""One line per request (info with JSON logs, debug in text): method, route template (never the raw path,
which may carry a token), status, time."""
UNMATCHED = "unmatched"
"""The route label of requests no route matched (a raw path would make a label per URL)."""


class FleetCollector:
    """The database counts of one scrape as Prometheus gauges."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        """Query the database once and yield the gauges."""
        counts = fleet_counts(self.engine)
        guests = GaugeMetricFamily("controlplane_guests", "Managed guests by kind, power state and Ready condition.",
                                   labels=["kind", "power", "ready"])
        for (kind, power, ready), n in sorted(counts.guests.items()):
            guests.add_metric([kind, power, ready], n)
        depth = GaugeMetricFamily("workqueue_depth", "Objects due for a reconcile and not leased.", labels=["name"])
        for kind, n in sorted(counts.queue_depth.items()):
            depth.add_metric([kind], n)
        held = GaugeMetricFamily("controlplane_leases_held", "Unexpired work leases held by any worker.",
                                 labels=["kind"])
        for kind, n in sorted(counts.leases_held.items()):
            held.add_metric([kind], n)
        yield from (guests, depth, held)


class _ProcessAndFleet:
    """This process's metrics followed by the database counts."""

    def __init__(self, engine: Engine | None) -> None:
        self.fleet = FleetCollector(engine) if engine is not None else None

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()
        if self.fleet is not None:
            yield from self.fleet.collect()


def scrape_registry(engine: Engine | None) -> CollectorRegistry:
    """A registry whose scrape is this process's metrics plus (with an engine) the database counts."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ProcessAndFleet(engine))  # type: ignore[arg-type]
    return registry


def serve_metrics_port(settings: Settings, engine: Engine | None) -> WSGIServer | None:
    """Serve the metrics on ``settings.metrics_port`` in a background thread (when configured); returns the
    server (``shutdown()`` stops it)."""
    if settings.metrics_port is None:
        return None
    server, _thread = start_http_server(settings.metrics_port, addr=settings.http_host,
                                        registry=scrape_registry(engine))
    return server


def _authorized(request: Request, settings: Settings) -> bool:
    if settings.metrics_token is None:
        return False
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = settings.metrics_token.get_secret_value()
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode())


def route_template(scope: dict[str, Any]) -> str:
    """The matched route's path template with the prefixes of the routers it is included in
    (``/api/v1/vms/{guest_id}``); :data:`UNMATCHED` when no route matched."""
    template = getattr(scope.get("route"), "path", None)
    if not template:
        return UNMATCHED
    if ":path}" in template:  # a catch-all parameter may span segments: the template alone is the label
        return template
    path = scope.get("path", "")
    prefix_segments = path.rstrip("/").count("/") - template.rstrip("/").count("/")
    prefix = "/".join(path.split("/")[: prefix_segments + 1]) if prefix_segments > 0 else ""
    return prefix + template


def observe(request: Request, status: int, seconds: float) -> None:
    """Count one finished request by route template and status, and write its access-log line."""
    template = route_template(request.scope)
    HTTP_REQUESTS.labels(request.method, template, str(status)).inc()
    HTTP_DURATION.labels(request.method, template).observe(seconds)
    access_log.log(logging.INFO if logs.is_json() else logging.DEBUG,  # text: the console stays quiet
                   "%s %s %d %.1fms", request.method, template, status, seconds * 1000)


def install(app: FastAPI) -> None:
    """Mount ``/metrics`` (see the module doc); the app's request layer calls :func:`observe`."""
    settings: Settings = app.state.deps.settings
    registry = scrape_registry(app.state.deps.app_engine)

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        if settings.metrics_port is not None:
            return Response(status_code=404, content="metrics are served on the metrics port\n")
        if not _authorized(request, settings):
            message = ("send Authorization: Bearer <token>" if settings.metrics_token is not None
                       else f"metrics are disabled on this port: set {env_name('metrics_token')} or "
                            f"{env_name('metrics_port')}")
            return Response(status_code=401, content=message + "\n", headers={"WWW-Authenticate": "Bearer"})
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
