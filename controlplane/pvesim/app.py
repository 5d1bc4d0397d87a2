"""The aiohttp application: one catch-all handler for ``/api2/json`` that decodes the path, injects faults,
authenticates, validates parameters against the schema, checks privileges and node reachability, calls
the route under the state lock and renders ``{"data": ...}`` or a PVE-style error (reason phrase + body).
``/_sim`` is dispatched to :mod:`controlplane.pvesim.admin`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.parse
from typing import Any

from aiohttp import web

from . import admin
from .auth import Principal
from .errors import NodeUnreachable, NotImplementedRoute, PveError
from .routes import Ctx, Router, all_routes
from .runtime import Runtime
from .schema import Endpoint
from .views import RawJson

API_PREFIX = "/api2/json"
LOG = logging.getLogger("controlplane.pvesim")
ANONYMOUS = Principal("", None, True, "none")


def render_ok(data: Any) -> web.Response:
    """``{"data": ...}`` with PVE's content type."""
    if isinstance(data, RawJson):
        body = b'{"data":' + data.payload + b"}"
    else:
        body = json.dumps({"data": data}, separators=(",", ":")).encode()
    return web.Response(body=body, content_type="application/json", charset="utf-8")


def render_error(exc: PveError) -> web.Response:
    """The error status with the message as HTTP reason phrase and ``{"data": null[, "errors"]}``."""
    reason = " ".join(exc.reason.split()).encode("latin-1", "replace").decode("latin-1")[:512]
    body = json.dumps(exc.body()).encode()
    return web.Response(status=exc.status, reason=reason, body=body, content_type="application/json", charset="utf-8")


def decode_segments(raw_path: str) -> list[str]:
    """Percent-decoded, non-empty path segments (trailing and doubled slashes are ignored)."""
    return [urllib.parse.unquote(s) for s in raw_path.split("/") if s]


def auth_cookie(header: str | None) -> str | None:
    """The ``PVEAuthCookie`` value from a raw ``Cookie`` header."""
    for part in (header or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == "PVEAuthCookie":
            return value
    return None


async def read_params(request: web.Request) -> dict[str, Any]:
    """Query string plus form (also when untyped) or JSON body; repeated keys become lists."""
    out: dict[str, Any] = {}

    def add(key: str, value: Any) -> None:
        if key in out:
            prev = out[key]
            out[key] = [*(prev if isinstance(prev, list) else [prev]), value]
        else:
            out[key] = value

    for key, value in request.query.items():
        add(key, value)
    if request.method in ("POST", "PUT", "DELETE") and request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise PveError(400, "malformed JSON body") from None
            for key, value in (body or {}).items() if isinstance(body, dict) else ():
                out[key] = value
        elif "Content-Type" not in request.headers:
            # PVE decodes a body without Content-Type as form data (the inventory plugin's ticket login
            # posts a pre-encoded string, for which requests sets no Content-Type)
            for key, value in urllib.parse.parse_qsl(await request.text(), keep_blank_values=True):
                add(key, value)
        else:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, str):
                    add(key, value)
    return out


class ApiHandler:
    """Callable aiohttp handler bound to one runtime and its route table."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.router = Router(all_routes())
        self.endpoints: dict[tuple[str, str], Endpoint] = {}
        for r in self.router.routes:
            ep = rt.schema.endpoint(r.method, r.template)
            if ep is None:
                raise RuntimeError(f"route {r.method} {r.template} is not in the PVE API schema")
            self.endpoints[(r.method, r.template)] = ep

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        rt, method = self.rt, request.method
        segs = decode_segments(request.rel_url.raw_path[len(API_PREFIX) :])
        path = "/" + "/".join(segs)
        hit = self.router.match(method, segs)
        rt.stats.record(method, hit[0].template if hit else path)
        try:
            rt.tasks.tick()
            faults = rt.faults.for_request(method, path)
            if faults.delay:
                await asyncio.sleep(faults.delay)
            if faults.drop:
                return drop_connection(request)
            if faults.error:
                raise PveError(*faults.error)
            params = await read_params(request)
            if method == "POST" and path == "/access/ticket":
                principal = ANONYMOUS
            else:
                principal = rt.auth.authenticate(method, request.headers, auth_cookie(request.headers.get("Cookie")))
            if hit is None:
                raise NotImplementedRoute(method, path)
            route, path_params = hit
            endpoint = self.endpoints[(route.method, route.template)]
            if "node" in path_params:
                node = rt.state.node(path_params["node"])
                if not node.online:
                    raise NodeUnreachable(node.name)
            p = endpoint.validate({**params, **path_params})
            if principal is not ANONYMOUS:
                rt.auth.authorize(principal, method, acl_for(endpoint, p))
            with rt.state.lock:
                data = route.handler(Ctx(rt, principal), p)
            return render_ok(data)
        except PveError as exc:
            return render_error(exc)
        except Exception as exc:  # the simulator must answer like a server, never crash the loop
            LOG.exception("pvesim: internal error on %s %s", method, path)
            return render_error(PveError(500, f"internal simulator error: {type(exc).__name__}: {exc}"))


def acl_for(endpoint: Endpoint, params: dict[str, Any]) -> tuple[str, str]:
    """(ACL path, privilege) named in a 403: the schema's ``perm`` check, else a guess from the params."""
    acl = endpoint.permission
    if acl is not None:
        values = {k: params.get(k, k) for k in ("vmid", "node", "storage", "poolid")}
        try:
            return acl[0].format(**values), acl[1]
        except (KeyError, IndexError):
            return acl
    if "vmid" in params:
        return f"/vms/{params['vmid']}", "VM.Allocate"
    if "poolid" in params:
        return f"/pool/{params['poolid']}", "Pool.Allocate"
    return "/", "Sys.Modify"


def drop_connection(request: web.Request) -> web.StreamResponse:
    """Close the client connection without an HTTP response."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=500)


def make_app(rt: Runtime) -> web.Application:
    """The aiohttp application serving ``/api2/json`` and ``/_sim`` for ``rt``."""
    app = web.Application(client_max_size=64 << 20)
    api = ApiHandler(rt)
    app.router.add_route("*", API_PREFIX + "{tail:.*}", api.__call__)
    app.router.add_route("*", admin.PREFIX + "{tail:.*}", admin.AdminHandler(rt).__call__)
    return app
