"""The guests list (the home page) and the power buttons on its cards and rows."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from controlplane.portal.guest_view import kind_of, parse_id, view
from controlplane.portal.session import PageDep, PostDep
from controlplane.portal.web import render, safe_next
from controlplane.services import guest_listing, guests
from controlplane.services.guest_listing import GuestFilter
from controlplane.services.listing import ListParams

router = APIRouter()
PAGE_SIZE = 25
Text = Annotated[str, Query(max_length=200)]


@router.get("/", response_class=HTMLResponse)
def home(request: Request, page: PageDep, project: Text = "", kind: Text = "", power: Text = "",
         ready: Text = "", q: Text = "", sort: Text = "", cursor: Annotated[str, Query(max_length=1024)] = "",
         limit: Annotated[int, Query(ge=1, le=100)] = PAGE_SIZE, fragment: str = "") -> HTMLResponse:
    """The guests the caller may see, filtered; ``fragment=1`` answers the list alone (live refresh)."""
    flt = GuestFilter(project=project, kind=kind, power=power, ready=ready)
    params = ListParams(limit=limit, cursor=cursor or None, sort=sort or None, q=q or None)

    def read(session):  # type: ignore[no-untyped-def]
        rows, next_cursor = guest_listing.list_guests(session, page.caller, flt, params)
        return rows, next_cursor, guest_listing.project_names(session, page.caller)

    rows, next_cursor, names = page.db.read(read)
    filters = {"project": project, "kind": kind, "power": power, "ready": ready, "q": q, "sort": sort,
               "limit": "" if limit == PAGE_SIZE else str(limit)}
    chosen = {k: v for k, v in filters.items() if v}
    here_query = {**chosen, **({"cursor": cursor} if cursor else {})}
    context = {"guests": [view(r) for r in rows], "next_cursor": next_cursor, "filters": filters,
               "projects": names, "first_page": not cursor,
               "filtered": any(v for k, v in filters.items() if k != "limit"),
               "here": "/?" + urlencode(here_query), "first_url": "/?" + urlencode(chosen),
               "refresh_url": "/?" + urlencode({**here_query, "fragment": "1"}),
               "next_url": "/?" + urlencode({**chosen, "cursor": next_cursor}) if next_cursor else "",
               "show_assigned": page.caller.role != "user"}
    return render(request, "_guest_list.html" if fragment else "guests.html", **context)


@router.post("/guests/{slug}/{guest_id}/actions/{action}")
def act(request: Request, page: PostDep, slug: str, guest_id: str, action: str,
        next: Annotated[str, Form()] = "") -> RedirectResponse:
    """Start, stop or reboot a guest (the service decides who may); back to where the button was."""
    kind, ident = kind_of(slug), parse_id(guest_id)
    page.db.write(f"{kind.audit_prefix}.{action}", lambda s: guests.act(s, kind, page.caller, ident, action),
                  target_kind=kind.name, target=ident)
    return RedirectResponse(safe_next(next, f"/guests/{slug}/{ident}"), status_code=303)
