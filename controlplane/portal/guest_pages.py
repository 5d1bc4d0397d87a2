"""The guests pages: the list (home)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from controlplane.portal.session import PageDep
from controlplane.portal.web import render

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def home(request: Request, page: PageDep) -> HTMLResponse:
    """The guests the caller may see."""
    return render(request, "guests.html", guests=[])
