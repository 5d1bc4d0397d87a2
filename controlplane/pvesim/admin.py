"""The ``/_sim`` admin API (outside ``/api2/json``) for faults and out-of-band changes; root only.

Requests authenticate like API calls (``root@pam`` token or ticket); bodies are JSON. See the package
docstring for the list of endpoints.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .errors import PermissionDenied, PveError
from .runtime import Runtime

PREFIX = "/_sim"
AdminFn = Callable[[Runtime, dict[str, str], dict[str, Any]], Any]
_ROUTES: list[tuple[str, re.Pattern[str], AdminFn]] = []


def _route(method: str, pattern: str) -> Callable[[AdminFn], AdminFn]:
    def deco(fn: AdminFn) -> AdminFn:
        _ROUTES.append((method, re.compile(pattern), fn))
        return fn

    return deco


@_route("GET", r"/state")
def summary(rt: Runtime, m: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    """Counts and flags describing the simulated cluster."""
    st = rt.state
    return {
        "nodes": {n.name: {"online": n.online} for n in st.nodes.values()},
        "guests": len(st.guests),
        "running": sum(1 for g in st.guests.values() if g.status == "running"),
        "pools": sorted(st.pools),
        "tasks": len(rt.tasks.tasks),
        "generation": st.generation,
    }


@_route("GET", r"/stats")
def stats(rt: Runtime, m: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    """API requests counted per (method, route template) since start or the last reset."""
    return rt.stats.describe()


@_route("DELETE", r"/stats")
def stats_reset(rt: Runtime, m: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    """Reset the request counters; returns what they held."""
    described = rt.stats.describe()
    rt.stats.reset()
    return described


@_route("GET", r"/faults")
def fault_list(rt: Runtime, m: dict[str, str], body: dict[str, Any]) -> list[dict[str, Any]]:
    """Active fault rules."""
    return [r.describe() for r in rt.faults.rules]


@_route("POST", r"/faults")
def fault_add(rt: Runtime, m: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    """Add a rule: a JSON object of rule fields or ``{"spec": "kind,key=value"}``."""
    try:
        rule = rt.faults.add(body.get("spec", body))
    except (ValueError, TypeError) as exc:
        raise PveError(400, f"bad fault rule: {exc}") from None
    if rule.kind == "offline":
        rt.state.set_node_online(rule.node, False)
    return rule.describe()


@_route("DELETE", r"/faults")
def fault_clear(rt: Runtime, m: dict[str, str], body: dict[str, Any]) -> None:
    """Remove every fault rule (offline nodes stay offline until brought online)."""
    rt.faults.clear()


@_route("POST", r"/nodes/(?P<node>[^/]+)/(?P<action>online|offline)")
def node_online(rt: Runtime, m: dict[str, str], body: dict[str, Any]) -> None:
    """Take a node offline or bring it back."""
    rt.state.set_node_online(m["node"], m["action"] == "online")


@_route("POST", r"/guests/(?P<vmid>\d+)/(?P<action>start|stop)")
def guest_power(rt: Runtime, m: dict[str, str], body: dict[str, Any]) -> None:
    """Start or stop a guest behind the control plane's back."""
    (rt.state.start_guest if m["action"] == "start" else rt.state.stop_guest)(int(m["vmid"]))


@_route("DELETE", r"/guests/(?P<vmid>\d+)")
def guest_delete(rt: Runtime, m: dict[str, str], body: dict[str, Any]) -> None:
    """Delete a guest (and its volumes) behind the control plane's back."""
    rt.state.delete_guest(int(m["vmid"]))


@_route("PUT", r"/guests/(?P<vmid>\d+)/config")
def guest_config(rt: Runtime, m: dict[str, str], body: dict[str, Any]) -> dict[str, str]:
    """Reconfigure a guest: ``{"set": {key: value}, "delete": [keys]}``; returns the new digest."""
    return {"digest": rt.state.set_config(int(m["vmid"]), body.get("set") or {}, body.get("delete") or [])}


@_route("PUT", r"/guests/(?P<vmid>\d+)/ip")
def guest_ip(rt: Runtime, m: dict[str, str], body: dict[str, Any]) -> None:
    """Set the IP a guest reports (``{"ip": "127.0.0.1"}``; null restores the default)."""
    rt.state.set_guest_ip(int(m["vmid"]), body.get("ip"))


class AdminHandler:
    """aiohttp handler for ``/_sim``."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        from .app import auth_cookie, render_error, render_ok

        rt, method = self.rt, request.method
        path = "/" + "/".join(s for s in request.path[len(PREFIX) :].split("/") if s)
        try:
            principal = rt.auth.authenticate(method, request.headers, auth_cookie(request.headers.get("Cookie")))
            if not principal.is_root or principal.readonly:
                raise PermissionDenied("/", "Sys.Modify")
            body: dict[str, Any] = {}
            if request.can_read_body:
                try:
                    body = json.loads(await request.read() or b"{}")
                except ValueError:
                    raise PveError(400, "admin API bodies must be JSON") from None
            for meth, rx, fn in _ROUTES:
                hit = rx.fullmatch(path)
                if hit and meth == method:
                    with rt.state.lock:
                        return render_ok(fn(rt, hit.groupdict(), body))
            raise PveError(501, f"Method '{method} {PREFIX}{path}' not implemented")
        except PveError as exc:
            return render_error(exc)
