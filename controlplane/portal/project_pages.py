"""Projects: each with its quota bars (used of the limit for vCPUs, memory, disk and guests), its members
and, for managers, adding and removing members."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from controlplane.models.tenancy import MembershipCreate
from controlplane.portal import forms
from controlplane.portal.guest_view import parse_id
from controlplane.portal.session import PageDep, PostDep
from controlplane.portal.web import render
from controlplane.services import authz, guest_forms, projects

router = APIRouter()


@router.get("/projects", response_class=HTMLResponse)
def project_list(request: Request, page: PageDep) -> HTMLResponse:
    """The projects the caller sees, with quota bars."""
    rooms = page.db.read(lambda s: guest_forms.project_rooms(s, page.caller))
    return render(request, "projects.html", rooms=rooms)


@router.get("/projects/{project_id}", response_class=HTMLResponse)
def project_page(request: Request, page: PageDep, project_id: str) -> HTMLResponse:
    """One project: quota bars and members (404 for a project the caller may not see, as in the API)."""
    ident = parse_id(project_id, "project")

    def read(session):  # type: ignore[no-untyped-def]
        row = projects.get(session, page.caller, ident)
        room = guest_forms.project_rooms(session, page.caller, only=ident)[0]
        manage = authz.can_manage_project(page.caller, row.tenant_id)
        people = guest_forms.assignable_users(session, page.caller, row.tenant_id) if manage else []
        return row, room, guest_forms.members_of(session, page.caller, ident), manage, people

    row, room, members, manage, people = page.db.read(read)
    member_ids = {m["user_id"] for m in members}
    return render(request, "project.html", project=row, room=room, members=members, manage=manage,
                  candidates=[u for u in people if u.id not in member_ids])


@router.post("/projects/{project_id}/members")
def add_member(page: PostDep, project_id: str, form: forms.FormDep) -> RedirectResponse:
    """Make a user of the tenant a member (managers)."""
    ident = parse_id(project_id, "project")
    body = forms.parse(MembershipCreate, {"user_id": form.get("user_id") or None})
    page.db.write("project.member_add", lambda s: projects.add_member(s, page.caller, ident, body),
                  target_kind="Project", target=ident)
    return RedirectResponse(f"/projects/{ident}?flash=Member+added", status_code=303)


@router.post("/projects/{project_id}/members/{user_id}/remove")
def remove_member(page: PostDep, project_id: str, user_id: str) -> RedirectResponse:
    """End a membership (managers)."""
    ident, user = parse_id(project_id, "project"), parse_id(user_id, "member")
    page.db.write("project.member_remove", lambda s: projects.remove_member(s, page.caller, ident, user),
                  target_kind="Project", target=ident)
    return RedirectResponse(f"/projects/{ident}?flash=Member+removed", status_code=303)
