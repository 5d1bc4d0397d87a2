"""Server-rendered self-service pages: guests, projects, account and administration at ``/``.

Every page is a thin view over ``controlplane.services`` (the same authorization, quota and validation
as the REST API); forms are plain HTML posts, htmx and a live event stream come on top.
"""

from __future__ import annotations

from fastapi import FastAPI

from controlplane.portal import live
from controlplane.portal.errors import install_error_pages
from controlplane.portal.routes import portal_router
from controlplane.portal.web import STATIC, CachedStatic


def install(app: FastAPI) -> None:
    """Mount the portal on ``app``: its pages at ``/``, its assets at ``/static/``, HTML error pages."""
    app.include_router(portal_router())
    app.mount("/static", CachedStatic(directory=STATIC, check_dir=False), name="static")
    install_error_pages(app)
    app.router.on_shutdown.append(lambda: live.stop_hub(app))
