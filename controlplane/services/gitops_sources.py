"""Git sources (pull-based GitOps): register, list, change, remove; what is due for a poll; the sync's
bookkeeping (state, commits, error) and its runs.

Admins manage every tenant's sources, managers their own tenant's (RLS underneath). The HTTPS token or SSH
deploy key and the webhook secret go to Vault; the row keeps only their paths (and an ssh source's public
host keys). A change to a source asks for a poll at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import Session

from controlplane.errors import InvalidInput, NotFound, PreconditionFailed
from controlplane.models import tables as t
from controlplane.models.git_source import GitSourceCreate, GitSourceUpdate
from controlplane.services import audit, authz, dberrors, tenants
from controlplane.services.caller import Caller

S = t.git_sources
SECRET_PREFIX = "controlplane/git-sources/"


class SecretStore(Protocol):
    """Where a source's secrets go (Vault KV v2)."""

    def write(self, path: str, data: dict[str, str]) -> None:
        """Store ``data`` at ``path``."""

    def delete(self, path: str) -> None:
        """Remove the secret at ``path``."""


def _check(row: Any, expected: int | None) -> None:
    if expected is not None and expected != row.resource_version:
        raise PreconditionFailed(f"the git source changed (resource_version is {row.resource_version})")


def source_caller(row: Any) -> Caller:
    """Who a source's sync acts as: a manager of the source's tenant (no user), so RLS keeps it there."""
    return Caller(user_id=None, tenant_id=row.tenant_id, role="manager", email=f"git-source {row.name}")


def list_query(caller: Caller | None = None) -> sa.Select:
    """The sources visible to the caller: admins and managers (RLS keeps a manager in their tenant); none
    for a plain user."""
    stmt = sa.select(S)
    if caller is not None and not may_list(caller):
        stmt = stmt.where(sa.false())
    return stmt


def may_list(caller: Caller) -> bool:
    """Whether the caller sees git sources at all (admins and managers)."""
    return caller.is_admin or caller.is_manager


def list_visible(session: Session, caller: Caller, limit: int = 500) -> list[sa.Row]:
    """The sources the caller may see, by name (the portal's page); a plain user is refused (404)."""
    if not may_list(caller):
        raise NotFound("no such page")
    return list(session.execute(list_query(caller).order_by(S.c.name).limit(limit)).all())


def get(session: Session, caller: Caller, source_id: UUID, *, lock: bool = False) -> sa.Row:
    """One source the caller may manage."""
    stmt = sa.select(S).where(S.c.id == source_id)
    row = session.execute(stmt.with_for_update() if lock else stmt).first()
    if row is None or not (caller.is_admin or (caller.is_manager and row.tenant_id == caller.tenant_id)
                           or caller.role == "system"):
        raise NotFound("no such git source")
    return row


def is_ssh(url: str) -> bool:
    """Whether the source is reached over ssh (its credential is a deploy key, not a token)."""
    return url.startswith("ssh://")


def _check_credentials(body: GitSourceCreate) -> None:
    if is_ssh(body.url):
        if body.known_hosts is None:
            raise InvalidInput("an ssh:// source needs the server's host keys (the output of ssh-keyscan -p PORT "
                               "HOST, checked against what the server presents); no host key is ever accepted "
                               "blindly", field="known_hosts")
        if body.token is not None:
            raise InvalidInput("an ssh:// source authenticates with ssh_private_key, not a token", field="token")
        return
    if body.ssh_private_key is not None:
        raise InvalidInput("a deploy key needs an ssh:// URL", field="ssh_private_key")
    if body.known_hosts is not None:
        raise InvalidInput("host keys apply to ssh:// URLs only", field="known_hosts")


def create(session: Session, caller: Caller, body: GitSourceCreate, vault: SecretStore) -> sa.Row:
    """Register a source; its secrets are written to Vault, their paths to the row (an ssh:// source's host
    keys, which are public, to the row itself)."""
    tenant_id = tenants.resolve(session, body.tenant, body.tenant_id, default=caller.tenant_id)
    authz.require_manager(caller, "manage git sources", tenant_id)
    _check_credentials(body)
    with dberrors.taken("name", body.name, "among git sources"):
        row = session.execute(sa.insert(S).values(
            tenant_id=tenant_id, name=body.name, url=body.url, branch=body.branch, path=body.path,
            include=body.include, exclude=body.exclude, poll_interval_s=body.poll_interval_s, prune=body.prune,
            suspended=body.suspended, state="Suspended" if body.suspended else "OutOfSync", created_by=caller.user_id,
            known_hosts=body.known_hosts,
        ).returning(S)).one()
    paths: dict[str, str] = {}
    if body.token is not None:
        paths["credential_path"] = f"{SECRET_PREFIX}{row.id}/credentials"
        vault.write(paths["credential_path"], {"username": body.username, "token": body.token})
    if body.ssh_private_key is not None:
        paths["credential_path"] = f"{SECRET_PREFIX}{row.id}/credentials"
        vault.write(paths["credential_path"], {"ssh_private_key": body.ssh_private_key})
    if body.webhook_secret is not None:
        paths["webhook_secret_path"] = f"{SECRET_PREFIX}{row.id}/webhook"
        vault.write(paths["webhook_secret_path"], {"secret": body.webhook_secret})
    if paths:
        row = session.execute(sa.update(S).where(S.c.id == row.id).values(**paths).returning(S)).one()
    audit.record(session, caller, "git_source.create", target_kind="GitSource", target_id=row.id,
                 target_name=row.name, tenant_id=tenant_id, details={"url": row.url, "branch": row.branch})
    return row


def update(session: Session, caller: Caller, source_id: UUID, body: GitSourceUpdate, expected: int | None) -> sa.Row:
    """Change some fields (suspend or resume, prune, interval, branch, path, globs)."""
    row = get(session, caller, source_id, lock=True)
    authz.require_manager(caller, "manage git sources", row.tenant_id)
    _check(row, expected)
    values = body.model_dump(exclude_unset=True, exclude_none=True)
    if "known_hosts" in values and not is_ssh(row.url):
        raise InvalidInput("host keys apply to ssh:// URLs only", field="known_hosts")
    if "suspended" in values:
        values["state"] = "Suspended" if values["suspended"] else "OutOfSync"
    row = session.execute(sa.update(S).where(S.c.id == row.id).values(
        **values, updated_at=sa.func.now(), resource_version=S.c.resource_version + 1,
        refresh_requested_at=sa.func.now()).returning(S)).one()
    audit.record(session, caller, "git_source.update", target_kind="GitSource", target_id=row.id,
                 target_name=row.name, tenant_id=row.tenant_id, details={k: str(v) for k, v in values.items()})
    return row


def delete(session: Session, caller: Caller, source_id: UUID, vault: SecretStore, expected: int | None) -> None:
    """Forget a source and its secrets (the guests it manages stay, still marked with it)."""
    row = get(session, caller, source_id, lock=True)
    authz.require_manager(caller, "manage git sources", row.tenant_id)
    _check(row, expected)
    session.execute(sa.delete(S).where(S.c.id == row.id))
    for path in (row.credential_path, row.webhook_secret_path):
        if path:
            vault.delete(path)
    audit.record(session, caller, "git_source.delete", target_kind="GitSource", target_id=row.id,
                 target_name=row.name, tenant_id=row.tenant_id)


def request_refresh(session: Session, source_id: UUID) -> None:
    """Ask for a poll as soon as possible (a verified push webhook)."""
    session.execute(sa.update(S).where(S.c.id == source_id).values(refresh_requested_at=sa.func.now()))


def due(session: Session) -> list[sa.Row]:
    """Sources to poll now: not suspended, and never polled, past their interval, or asked to refresh."""
    interval = sa.func.make_interval(0, 0, 0, 0, 0, 0, S.c.poll_interval_s)
    return list(session.execute(sa.select(S).where(
        S.c.suspended.is_(False),
        sa.or_(S.c.last_polled_at.is_(None), S.c.last_polled_at + interval <= sa.func.now(),
               S.c.refresh_requested_at >= S.c.last_polled_at),
    ).order_by(S.c.last_polled_at.nulls_first())).all())


def record(session: Session, row: Any, *, state: str, seen: str | None, applied: str | None = None,
           error: str | None = None) -> None:
    """Write what a poll found: the state, the commits and the error (``None`` clears it)."""
    values: dict[str, Any] = {"state": state, "last_seen_commit": seen, "last_error": error,
                              "last_polled_at": sa.func.clock_timestamp()}
    if applied is not None:
        values["last_applied_commit"] = applied
    session.execute(sa.update(S).where(S.c.id == row.id).values(**values))


def record_run(session: Session, row: Any, *, ok: bool, lines: Iterable[str], error: str | None,
               summary: dict[str, Any]) -> UUID:
    """A finished sync run with its log, listed with the reconciler's runs (``GET /api/v1/runs``)."""
    run_id = session.execute(sa.insert(t.runs).values(
        tenant_id=row.tenant_id, target_kind="GitSource", target_id=row.id, target_name=row.name, action="sync",
        state="succeeded" if ok else "failed", summary=summary, error=error, started_at=sa.func.now(),
        finished_at=sa.func.clock_timestamp(), worker="gitops-sync",
    ).returning(t.runs.c.id)).scalar_one()
    entries = [{"run_id": run_id, "seq": n, "tenant_id": row.tenant_id, "stream": "gitops", "line": line[:4000]}
               for n, line in enumerate(lines, 1)]
    if entries:
        session.execute(sa.insert(t.run_log_entries), entries)
    return run_id
