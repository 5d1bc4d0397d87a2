"""``/api/v1/git-sources``: repositories the control plane follows (admins and managers of the tenant), and
each source's push webhook (HMAC-signed, no bearer token: GitHub/Gitea ``X-Hub-Signature-256`` or
GitLab ``X-Gitlab-Token``), which asks for a sync at once."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response, status

from controlplane.api.deps import DbDep, RuntimeDep
from controlplane.api.etag import PRECONDITION, ExpectedVersion, tagged
from controlplane.api.listparams import list_params
from controlplane.errors import ControlPlaneError, NotFound, Unauthenticated
from controlplane.models import tables as t
from controlplane.models.common import Page
from controlplane.models.git_source import GitSourceCreate, GitSourcePublic, GitSourceUpdate
from controlplane.services import gitops_sources
from controlplane.services.caller import system_caller
from controlplane.services.listing import ListParams, paginate
from controlplane.services.transactions import Db

router = APIRouter(prefix="/git-sources", tags=["git-sources"])
S = t.git_sources
MAX_WEBHOOK_BYTES = 1024 * 1024
"""Largest push event accepted (GitHub caps its payloads at 25 MB; a push that large is refused)."""


def public(row: Any) -> GitSourcePublic:
    """A source row as the API returns it (secrets only as 'present')."""
    return GitSourcePublic(
        id=row.id, tenant_id=row.tenant_id, name=row.name, url=row.url, branch=row.branch, path=row.path,
        include=row.include or [], exclude=row.exclude or [], poll_interval_s=row.poll_interval_s, prune=row.prune,
        suspended=row.suspended, state=row.state, last_seen_commit=row.last_seen_commit,
        last_applied_commit=row.last_applied_commit, last_error=row.last_error, last_polled_at=row.last_polled_at,
        has_token=bool(row.credential_path) and not gitops_sources.is_ssh(row.url),
        has_ssh_key=bool(row.credential_path) and gitops_sources.is_ssh(row.url), known_hosts=row.known_hosts,
        has_webhook_secret=bool(row.webhook_secret_path),
        webhook_path=f"/api/v1/git-sources/{row.id}/webhook", created_at=row.created_at, updated_at=row.updated_at,
        resource_version=row.resource_version,
    )


@router.get("", response_model=Page[GitSourcePublic], operation_id="listGitSources")
def list_sources(db: DbDep, params: Annotated[ListParams, Depends(list_params)]) -> Page[GitSourcePublic]:
    """The git sources of the caller's tenant (admins: all)."""
    gitops_sources_visible = gitops_sources.list_query(db.caller)
    rows, cursor = db.read(lambda s: paginate(s, gitops_sources_visible, params, id_column=S.c.id,
                                              default_sort="name", sortable={"name": S.c.name}, search=[S.c.name]))
    return Page(items=[public(r) for r in rows], next_cursor=cursor)


@router.post("", response_model=GitSourcePublic, status_code=status.HTTP_201_CREATED, operation_id="createGitSource")
def create_source(body: GitSourceCreate, db: DbDep, rt: RuntimeDep, response: Response) -> GitSourcePublic:
    """Register a source; the token or deploy key and the webhook secret go to Vault."""
    row = db.write("git_source.create", lambda s: gitops_sources.create(s, db.caller, body, rt.deps.vault),
                   target_kind="GitSource")
    return public(tagged(response, row))


@router.get("/{source_id}", response_model=GitSourcePublic, operation_id="getGitSource")
def get_source(source_id: UUID, db: DbDep, response: Response) -> GitSourcePublic:
    """One source, with its state, commits and last error."""
    return public(tagged(response, db.read(lambda s: gitops_sources.get(s, db.caller, source_id))))


@router.patch("/{source_id}", response_model=GitSourcePublic, operation_id="updateGitSource", responses=PRECONDITION)
def update_source(source_id: UUID, body: GitSourceUpdate, db: DbDep, response: Response,
                  expected: ExpectedVersion) -> GitSourcePublic:
    """Suspend or resume, switch prune, change interval, branch, path, globs or host keys (polled at once)."""
    row = db.write("git_source.update", lambda s: gitops_sources.update(s, db.caller, source_id, body, expected),
                   target_kind="GitSource", target=source_id)
    return public(tagged(response, row))


@router.delete("/{source_id}", status_code=status.HTTP_204_NO_CONTENT, operation_id="deleteGitSource",
               responses=PRECONDITION)
def delete_source(source_id: UUID, db: DbDep, rt: RuntimeDep, expected: ExpectedVersion) -> Response:
    """Forget a source and its secrets (its guests stay)."""
    db.write("git_source.delete", lambda s: gitops_sources.delete(s, db.caller, source_id, rt.deps.vault, expected),
             target_kind="GitSource", target=source_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _signed(secret: str, body: bytes, request: Request) -> bool:
    hub = request.headers.get("x-hub-signature-256", "")
    if hub:
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(hub, expected)
    token = request.headers.get("x-gitlab-token", "")
    return bool(token) and hmac.compare_digest(token.encode(), secret.encode())


@router.post("/{source_id}/webhook", status_code=status.HTTP_202_ACCEPTED, operation_id="gitSourceWebhook",
             responses={401: {"description": "missing or bad signature"}, 413: {"description": "body too large"}})
async def webhook(source_id: UUID, request: Request, rt: RuntimeDep) -> dict[str, str]:
    """A push event: with a valid HMAC signature the source is synced at once."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
        return _too_large()
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_WEBHOOK_BYTES:
            return _too_large()
    db = Db(rt.deps.app_engine, system_caller())
    try:
        row = db.read(lambda s: gitops_sources.get(s, db.caller, source_id))
        secret = rt.deps.vault.read(row.webhook_secret_path)["secret"] if row.webhook_secret_path else ""
    except NotFound:
        raise
    except ControlPlaneError as exc:
        raise Unauthenticated("bad webhook signature") from exc
    if not secret or not _signed(secret, body, request):
        raise Unauthenticated("bad webhook signature")
    db.write("git_source.webhook", lambda s: gitops_sources.request_refresh(s, source_id), target_kind="GitSource",
             target=source_id)
    return {"status": "refresh requested"}


def _too_large() -> Any:
    from fastapi.responses import JSONResponse

    return JSONResponse({"detail": f"webhook body larger than {MAX_WEBHOOK_BYTES} bytes"}, status_code=413)
