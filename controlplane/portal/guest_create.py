"""The create form: one form for a VM or a container, with size profiles, the project's remaining quota,
and a name check while typing. The services decide; a refusal shows the form again with its values."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from controlplane.errors import ControlPlaneError, InvalidInput
from controlplane.models.guest import GuestDocument, Metadata
from controlplane.portal import forms
from controlplane.portal.errors import form_errors
from controlplane.portal.guest_view import kind_of
from controlplane.portal.session import PageDep, PostDep
from controlplane.portal.web import render
from controlplane.services import guest_forms, guests
from controlplane.services.caller import Caller
from controlplane.services.transactions import Db

router = APIRouter()
PROFILES = {  # name: (cores, memory MiB, disk GiB)
    "small": (1, 1024, 10),
    "medium": (2, 4096, 40),
    "large": (4, 8192, 80),
}
NAME_RULE = "a name has lower-case letters, digits and dashes (not at either end), at most 63 characters"
DEFAULTS = {"kind": "vm", "project_id": "", "name": "", "profile": "small", "cores": "1", "memory_gib": "1",
            "disk_gb": "10", "image": "debian-12", "cluster": "", "node": "auto", "net": "dhcp", "ipv4": "",
            "gateway": "", "ssh_keys": "", "playbook": ""}


def _options(db: Db, caller: Caller) -> dict[str, Any]:
    def read(session):  # type: ignore[no-untyped-def]
        return guest_forms.project_rooms(session, caller), guest_forms.cluster_choices(session)

    rooms, clusters = db.read(read)
    return {"rooms": rooms, "clusters": clusters, "profiles": PROFILES}


def _memory_mb(text: str) -> Any:
    try:
        return round(float(text) * 1024)
    except ValueError:
        return text  # the schema names the field


def document(values: dict[str, str]) -> dict[str, Any]:
    """The guest document a filled-in form asks for (validated by the services' schema afterwards)."""
    if values["profile"] in PROFILES:
        cores, memory_mb, disk_gb = PROFILES[values["profile"]]
    else:
        cores, memory_mb, disk_gb = values["cores"], _memory_mb(values["memory_gib"]), values["disk_gb"]
    nic: dict[str, Any] = {"bridge": "vmbr0", "ipv4": "dhcp"}
    if values["net"] == "static":
        nic["ipv4"] = values["ipv4"]
        if values["gateway"]:
            nic["gateway"] = values["gateway"]
    spec: dict[str, Any] = {
        "cluster": values["cluster"], "node": values["node"] or "auto", "cores": cores, "memory_mb": memory_mb,
        "disks": [{"size_gb": disk_gb, "storage": "local-lvm"}], "image": values["image"], "network": [nic],
        "ssh_keys": forms.lines(values["ssh_keys"]), "power": "running",
    }
    if values["playbook"]:
        spec["configure"] = {"playbook": values["playbook"]}
    return {"apiVersion": "controlplane/v1", "kind": kind_of(values["kind"]).name,
            "metadata": {"name": values["name"], "project_id": values["project_id"] or None}, "spec": spec}


@router.get("/guests/new", response_class=HTMLResponse)
def new_form(request: Request, page: PageDep) -> HTMLResponse:
    """The empty form."""
    options = _options(page.db, page.caller)
    values = dict(DEFAULTS)
    if options["clusters"]:
        values["cluster"] = options["clusters"][0]["name"]
    if options["rooms"]:
        values["project_id"] = str(options["rooms"][0].id)
    return render(request, "guest_new.html", values=values, error="", error_field="", **options)


@router.post("/guests/new")
def create(page: PostDep, form: forms.FormDep) -> RedirectResponse:
    """Create the guest (the services check the caller's rights, the schema and the quota)."""
    values = {key: form.get(key, default) for key, default in DEFAULTS.items()}
    context = lambda: {"values": values, **_options(page.db, page.caller)}  # noqa: E731
    with form_errors("guest_new.html", context):
        kind = kind_of(values["kind"])
        doc = forms.parse(GuestDocument, document(values))
        row = page.db.write(f"{kind.audit_prefix}.create", lambda s: guests.create(s, kind, page.caller, doc),
                            target_kind=kind.name)
    return RedirectResponse(f"/guests/{values['kind']}/{row.id}", status_code=303)


@router.get("/guests/name-check", response_class=HTMLResponse)
def name_check(request: Request, page: PageDep, name: str = "", project_id: str = "",
               kind: str = "vm") -> HTMLResponse:
    """Whether the name is a valid DNS label and free in the project (a hint; creating decides)."""
    message, ok = "", True
    try:
        forms.parse(Metadata, {"name": name})
        rooms = page.db.read(lambda s: guest_forms.project_rooms(s, page.caller))
        project = next((r for r in rooms if str(r.id) == project_id), None)
        if project is not None and page.db.read(
                lambda s: guest_forms.name_taken(s, page.caller, kind_of(kind), project.name, name)):
            message, ok = f"{name} is already taken in {project.name}", False
        else:
            message = f"{name} is free"
    except InvalidInput:
        message, ok = NAME_RULE, False
    except ControlPlaneError as exc:
        message, ok = exc.message, False
    return render(request, "_name_check.html", message=message, ok=ok)
