"""Route table of ``/api2/json``: handlers register with :func:`route` using the schema's path templates,
and :class:`Router` matches percent-decoded path segments against them.

Route modules (one per resource family) are imported by :func:`all_routes`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..auth import Principal
from ..runtime import Runtime

Handler = Callable[["Ctx", dict[str, Any]], Any]
GREEDY = {"volume"}


@dataclass
class Ctx:
    """Per-request context handed to handlers."""

    rt: Runtime
    principal: Principal

    @property
    def user(self) -> str:
        """The user (or token id) written into UPIDs."""
        return self.principal.tokenid or self.principal.userid


@dataclass
class Route:
    """One served (method, schema path template) pair."""

    method: str
    template: str
    handler: Handler

    @property
    def parts(self) -> tuple[str, ...]:
        """The template split into segments."""
        return tuple(p for p in self.template.split("/") if p)


REGISTRY: list[Route] = []


def route(method: str, template: str) -> Callable[[Handler], Handler]:
    """Register ``handler`` for ``method`` on the schema path ``template``."""

    def deco(handler: Handler) -> Handler:
        REGISTRY.append(Route(method, template, handler))
        return handler

    return deco


def all_routes() -> list[Route]:
    """Import every route module and return the registry."""
    from . import access, cluster, lxc, nodes, pools, qemu, storage, tasks  # noqa: F401

    return REGISTRY


class Router:
    """Matches decoded path segments to routes (literal segments win over parameters)."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = sorted(routes, key=lambda r: -sum(1 for p in r.parts if not p.startswith("{")))

    def match(self, method: str, segs: list[str]) -> tuple[Route, dict[str, str]] | None:
        """The route for ``method`` and the path parameters, or None."""
        for candidate in self.routes:
            if candidate.method != method:
                continue
            params = _bind(candidate.parts, segs)
            if params is not None:
                return candidate, params
        return None


def _bind(parts: tuple[str, ...], segs: list[str]) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for i, part in enumerate(parts):
        if part.startswith("{"):
            name = part[1:-1]
            if name in GREEDY and i == len(parts) - 1 and len(segs) > i:
                params[name] = "/".join(segs[i:])
                return params
            if i >= len(segs):
                return None
            params[name] = segs[i]
        elif i >= len(segs) or segs[i] != part:
            return None
    return params if len(segs) == len(parts) else None
