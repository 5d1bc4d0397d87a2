"""The "Git sources" page (admins and managers): each source the caller may see with its sync state, the
commits it last saw and applied, when it last polled and its last error."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from controlplane.portal.session import PageDep
from controlplane.portal.web import render
from controlplane.services import gitops_sources

router = APIRouter()
STATE_TONES = {"Synced": "ok", "OutOfSync": "warn", "Failed": "bad", "Suspended": "idle"}


@router.get("/git-sources", response_class=HTMLResponse)
def git_sources_page(request: Request, page: PageDep) -> HTMLResponse:
    """The sources of the caller's tenant (admins: all); 404 for a plain user, as in the API."""
    sources = page.db.read(lambda s: gitops_sources.list_visible(s, page.caller))
    return render(request, "git_sources.html", sources=sources, tones=STATE_TONES)
