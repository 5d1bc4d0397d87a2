"""A guest's page: spec and status side by side, conditions, placement, its runs, power, resize (PATCH
semantics with the resource version: a stale form gets a clear message), assignment and deletion."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from controlplane.errors import InvalidInput, NotFound, PreconditionFailed
from controlplane.models.guest import GuestPatch
from controlplane.portal import forms
from controlplane.portal.errors import form_errors
from controlplane.portal.guest_view import conditions, kind_of, parse_id, view
from controlplane.portal.session import Page, PageDep, PostDep
from controlplane.portal.web import render
from controlplane.services import guest_forms, guests
from controlplane.services.guests import Kind

router = APIRouter()
STALE = ("Someone else changed this guest since you opened the page. The page now shows the current "
         "values: check them and submit again.")


def _context(page: Page, kind: Kind, ident: UUID) -> dict[str, Any]:
    def read(session):  # type: ignore[no-untyped-def]
        row = guests.get(session, kind, page.caller, ident)
        assignable = guest_forms.assignable_users(session, page.caller, row.tenant_id) \
            if page.caller.role != "user" else []
        return row, guest_forms.runs_of(session, page.caller, ident), assignable

    row, runs, assignable = page.db.read(read)
    by_type = conditions(row)
    order = [c for c in ("Ready", "Provisioned", "Configured", "Drifted") if c in by_type]
    return {"g": view(row, kind.name), "row": row, "spec": row.spec or {}, "status": row.status or {},
            "conditions": [by_type[c] for c in order] + [c for t, c in by_type.items() if t not in order],
            "runs": runs, "assignable": assignable, "can_assign": page.caller.role != "user"}


@router.get("/guests/{slug}/{guest_id}", response_class=HTMLResponse)
def detail(request: Request, page: PageDep, slug: str, guest_id: str, fragment: str = "") -> Response:
    """The guest's page; ``fragment=1`` answers its live part alone."""
    kind, ident = kind_of(slug), parse_id(guest_id)
    try:
        context = _context(page, kind, ident)
    except NotFound:
        if fragment:  # it was there a moment ago: the reconciler has destroyed it
            return Response(status_code=410)
        raise
    return render(request, "_guest_live.html" if fragment else "guest.html", error="", error_field="", **context)


def _size_patch(row: Any, form: dict[str, str]) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    for field, key in (("cores", "cores"), ("memory_gib", "memory_mb"), ("disk_gb", "disks")):
        text = form.get(field, "").strip()
        if not text:
            continue
        try:
            number = float(text)
        except ValueError as exc:
            raise InvalidInput(f"{field}: must be a number", field=field) from exc
        if key == "memory_mb":
            spec[key] = round(number * 1024)
        elif key == "disks":
            disks = [dict(d) for d in (row.spec or {}).get("disks", [])] or [{"storage": "local-lvm"}]
            disks[0]["size_gb"] = int(number)
            spec[key] = disks
        else:
            spec[key] = int(number)
    return spec


@router.post("/guests/{slug}/{guest_id}/resize")
def resize(request: Request, page: PostDep, slug: str, guest_id: str, form: forms.FormDep) -> RedirectResponse:
    """Change cores, memory or the first disk, only if nobody changed the guest since the form was shown."""
    kind, ident = kind_of(slug), parse_id(guest_id)
    try:
        expected = int(form.get("resource_version", ""))
    except ValueError as exc:
        raise InvalidInput("resource_version is missing: reload the page", field="resource_version") from exc

    def again() -> dict[str, Any]:
        return _context(page, kind, ident)

    with form_errors("guest.html", again):
        try:
            def write(session):  # type: ignore[no-untyped-def]
                row = guests.get(session, kind, page.caller, ident)
                body = forms.parse(GuestPatch, {"spec": _size_patch(row, form)})
                return guests.patch(session, kind, page.caller, ident, body, expected)

            page.db.write(f"{kind.audit_prefix}.update", write, target_kind=kind.name, target=ident)
        except PreconditionFailed as exc:
            raise PreconditionFailed(STALE) from exc
    return RedirectResponse(f"/guests/{slug}/{ident}?flash=Resize+requested", status_code=303)


@router.post("/guests/{slug}/{guest_id}/assign")
def assign(page: PostDep, slug: str, guest_id: str, form: forms.FormDep) -> RedirectResponse:
    """Assign the guest to a user of its tenant, or to nobody (managers and admins)."""
    kind, ident = kind_of(slug), parse_id(guest_id)
    user_id = parse_id(form["user_id"], "user") if form.get("user_id") else None
    page.db.write(f"{kind.audit_prefix}.assign", lambda s: guests.assign(s, kind, page.caller, ident, user_id),
                  target_kind=kind.name, target=ident)
    return RedirectResponse(f"/guests/{slug}/{ident}?flash=Assignment+saved", status_code=303)


@router.get("/guests/{slug}/{guest_id}/delete", response_class=HTMLResponse)
def confirm_delete(request: Request, page: PageDep, slug: str, guest_id: str) -> HTMLResponse:
    """Ask before deleting, naming the guest."""
    kind, ident = kind_of(slug), parse_id(guest_id)
    row = page.db.read(lambda s: guests.get(s, kind, page.caller, ident))
    return render(request, "guest_delete.html", g=view(row, kind.name))


@router.post("/guests/{slug}/{guest_id}/delete")
def delete(page: PostDep, slug: str, guest_id: str) -> RedirectResponse:
    """Mark the guest deleted; its page shows "Deleting…" until the reconciler has destroyed it."""
    kind, ident = kind_of(slug), parse_id(guest_id)
    page.db.write(f"{kind.audit_prefix}.delete", lambda s: guests.delete(s, kind, page.caller, ident, None),
                  target_kind=kind.name, target=ident)
    return RedirectResponse(f"/guests/{slug}/{ident}", status_code=303)
