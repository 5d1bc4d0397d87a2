"""The portal's rendering: one Jinja2 environment (autoescape on; a field missing from a document renders
empty), the page context every template gets, and the ``render`` helper."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.types import Scope

from controlplane.portal import humanize

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.ChainableUndefined,
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters.update(humanize.FILTERS)
    env.globals["percent"] = humanize.percent
    return env


templates = Jinja2Templates(env=_environment())


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render ``name`` with the page context (who is logged in, their CSRF token) plus ``context``."""
    page = getattr(request.state, "page", None)
    base: dict[str, Any] = {
        "caller": page.caller if page else None,
        "csrf": page.csrf if page else getattr(request.state, "anon_csrf", ""),
        "path": request.url.path,
        "flash": request.query_params.get("flash", ""),
    }
    base.update(context)
    return templates.TemplateResponse(request, name, base, status_code=status_code)


def safe_next(target: str, default: str = "/") -> str:
    """Only a path of this site is a place to go next (never another host)."""
    ok = target.startswith("/") and not target.startswith("//") and "\\" not in target
    return target if ok else default


def is_htmx(request: Request) -> bool:
    """Whether the request came from htmx (it then gets a fragment, not a whole page)."""
    return request.headers.get("hx-request") == "true"


class CachedStatic(StaticFiles):
    """``/static/``: our own CSS and JS and the pinned vendor code, never from a CDN."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        """The file, with a cache lifetime of an hour."""
        response = await super().get_response(path, scope)
        response.headers.setdefault("Cache-Control", "public, max-age=3600")
        return response
