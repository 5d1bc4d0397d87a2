"""All portal pages in one router (kept out of the OpenAPI document)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from controlplane.portal import (
    account_pages,
    admin_pages,
    auth_pages,
    git_source_pages,
    guest_create,
    guest_detail,
    guest_pages,
    live,
    project_pages,
    run_pages,
)
from controlplane.portal.session import mark_portal


def portal_router() -> APIRouter:
    """The portal's pages, each tagged so its errors render as HTML."""
    router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_portal)])
    for module in (auth_pages, guest_pages, guest_create, guest_detail, run_pages, live, project_pages,
                   account_pages, admin_pages, git_source_pages):
        router.include_router(module.router)
    return router
