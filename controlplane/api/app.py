"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from controlplane import __version__
from controlplane.api import health
from controlplane.api.deps import AppDeps
from controlplane.api.errors import install_error_handlers


def create_app(deps: AppDeps) -> FastAPI:
    """Build the HTTP app for one running control plane."""
    app = FastAPI(title="controlplane", version=__version__, description="Desired-state control plane for Proxmox VE")
    app.state.deps = deps
    install_error_handlers(app)
    app.include_router(health.router)
    return app
