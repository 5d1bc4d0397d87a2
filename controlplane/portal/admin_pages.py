"""Administration: a small dashboard, tenants, users, clusters (register; nodes with capacity) and the
audit log with filters. What each caller may do here is what the services allow them (admins; managers
for their own tenant's users)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from controlplane.errors import InvalidInput
from controlplane.models.cluster import ClusterCreate
from controlplane.models.identity import UserCreate, UserUpdate
from controlplane.models.tenancy import TenantCreate
from controlplane.portal import forms
from controlplane.portal.errors import form_errors
from controlplane.portal.guest_view import parse_id
from controlplane.portal.session import Page, PageDep, PostDep, runtime
from controlplane.portal.web import render
from controlplane.services import audit, authz, clusters, guest_forms, tenants, users

router = APIRouter(prefix="/admin")


def _require_staff(page: Page) -> None:
    authz.require_manager(page.caller, "open the administration pages")


@router.get("", response_class=HTMLResponse)
def dashboard(request: Request, page: PageDep) -> HTMLResponse:
    """Guests by state, failing runs, clusters' capacity, recent audit events."""
    _require_staff(page)
    return render(request, "admin_dashboard.html", **page.db.read(lambda s: guest_forms.dashboard(s, page.caller)))


def _people(page: Page) -> dict[str, Any]:
    def read(session):  # type: ignore[no-untyped-def]
        names = {t.id: t.name for t in guest_forms.tenant_rows(session)}
        return {"people": guest_forms.people(session, page.caller), "tenant_names": names}

    return page.db.read(read)


@router.get("/users", response_class=HTMLResponse)
def user_list(request: Request, page: PageDep) -> HTMLResponse:
    """Users the caller manages, with a form for a new one."""
    _require_staff(page)
    return render(request, "admin_users.html", error="", error_field="", **_people(page))


@router.post("/users")
def create_user(page: PostDep, form: forms.FormDep) -> RedirectResponse:
    """A new user (admins anywhere; managers in their tenant)."""
    with form_errors("admin_users.html", lambda: _people(page)):
        body = forms.parse(UserCreate, {"email": form.get("email", ""), "password": form.get("password", ""),
                                        "role": form.get("role", "user"), "tenant": form.get("tenant") or None})
        page.db.write("user.create", lambda s: users.create(s, page.caller, body), target_kind="User")
    return RedirectResponse("/admin/users?flash=User+created", status_code=303)


@router.post("/users/{user_id}")
def update_user(page: PostDep, user_id: str, form: forms.FormDep) -> RedirectResponse:
    """Change a user's role, or deactivate / reactivate them."""
    ident = parse_id(user_id, "user")
    with form_errors("admin_users.html", lambda: _people(page)):
        change: dict[str, Any] = {}
        if form.get("role"):
            change["role"] = form["role"]
        if form.get("active") in ("yes", "no"):
            change["is_active"] = form["active"] == "yes"
        body = forms.parse(UserUpdate, change)
        page.db.write("user.update", lambda s: users.update(s, page.caller, ident, body), target_kind="User",
                      target=ident)
    return RedirectResponse("/admin/users?flash=User+changed", status_code=303)


def _tenants(page: Page) -> dict[str, Any]:
    return {"tenant_rows": page.db.read(guest_forms.tenant_rows)}


@router.get("/tenants", response_class=HTMLResponse)
def tenant_list(request: Request, page: PageDep) -> HTMLResponse:
    """Tenants (admins see all; a manager their own)."""
    _require_staff(page)
    return render(request, "admin_tenants.html", error="", error_field="", **_tenants(page))


@router.post("/tenants")
def create_tenant(page: PostDep, form: forms.FormDep) -> RedirectResponse:
    """A new tenant (admins)."""
    with form_errors("admin_tenants.html", lambda: _tenants(page)):
        body = forms.parse(TenantCreate, {"name": form.get("name", ""), "display_name": form.get("display_name", "")})
        page.db.write("tenant.create", lambda s: tenants.create(s, page.caller, body), target_kind="Tenant")
    return RedirectResponse("/admin/tenants?flash=Tenant+created", status_code=303)


def _clusters(page: Page) -> dict[str, Any]:
    return {"cluster_rows": page.db.read(guest_forms.cluster_rows)}


@router.get("/clusters", response_class=HTMLResponse)
def cluster_list(request: Request, page: PageDep) -> HTMLResponse:
    """Clusters and their nodes' capacity, and a form to register one (admins)."""
    _require_staff(page)
    return render(request, "admin_clusters.html", error="", error_field="", **_clusters(page))


@router.post("/clusters")
def register_cluster(request: Request, page: PostDep, form: forms.FormDep) -> RedirectResponse:
    """Test the endpoint and token, keep the secret in Vault (never shown again), record the nodes."""
    rt = runtime(request)
    with form_errors("admin_clusters.html", lambda: _clusters(page)):
        body = forms.parse(ClusterCreate, {
            "name": form.get("name", ""), "endpoint": form.get("endpoint", ""), "token_id": form.get("token_id", ""),
            "token_secret": form.get("token_secret", ""), "verify_tls": form.get("verify_tls") == "yes",
            "ca_cert_pem": form.get("ca_cert_pem") or None})
        page.db.write("cluster.register", lambda s: clusters.register(s, page.caller, body, rt.deps.vault,
                                                                      rt.prober), target_kind="Cluster")
    return RedirectResponse("/admin/clusters?flash=Cluster+registered", status_code=303)


def _since(text: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput("since: a date like 2026-12-01 or 2026-12-01T08:00", field="since") from exc


@router.get("/audit", response_class=HTMLResponse)
def audit_log(request: Request, page: PageDep, actor: str = Query("", max_length=254),
              action: str = Query("", max_length=128), target: str = Query("", max_length=254),
              since: str = Query("", max_length=40), verify: bool = False) -> HTMLResponse:
    """The newest audit events matching the filters (``action`` takes ``*`` as a wildcard); with ``verify``,
    an admin also gets the hash chain's verification."""
    _require_staff(page)
    flt = audit.AuditFilter(actor=[actor] if actor else None, action=[action] if action else None,
                            target=[target] if target else None, since=_since(since))
    events = page.db.read(lambda s: guest_forms.audit_events(s, page.caller, flt))
    chain = page.db.read(lambda s: audit.verify_chain_as(s, page.caller)) if verify else None
    return render(request, "admin_audit.html", events=events, chain=chain, can_verify=page.caller.is_admin,
                  filters={"actor": actor, "action": action, "target": target, "since": since})
