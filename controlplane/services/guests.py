"""Managed guests (VirtualMachine and Container): create, read, replace, patch, delete, power actions.

Each write bumps ``generation`` (when the spec changes) and ``resource_version`` (always); ``status`` and
conditions belong to the reconciler. Deletion only marks the row: the reconciler destroys the guest and
then removes the row (finalizer). Abandoning (admins) forgets the object at once and leaves its guest
in Proxmox untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.orm import Session

from controlplane.errors import Conflict, InvalidInput, NotFound, PermissionDenied, PreconditionFailed
from controlplane.models import tables as t
from controlplane.models.guest import GuestDocument, GuestPatch, Spec
from controlplane.services import (
    audit,
    authz,
    cluster_inventory,
    dberrors,
    gitops_ownership,
    projects,
    quota,
    spec_rules,
)
from controlplane.services.caller import Caller

FINALIZER = "controlplane/destroy"
ACTION_POWER = {"start": "running", "stop": "stopped", "shutdown": "stopped", "reboot": None}


@dataclass(frozen=True)
class Kind:
    """A guest kind and its table."""

    name: str
    table: sa.Table
    audit_prefix: str


VM = Kind("VirtualMachine", t.virtual_machines, "vm")
CONTAINER = Kind("Container", t.containers, "container")


def list_query(kind: Kind, caller: Caller, *, include_deleted: bool = False) -> sa.Select:
    """The guests the caller may see, joined with their project's name."""
    g, p = kind.table, t.projects
    stmt = sa.select(g, p.c.name.label("project_name")).join(p, p.c.id == g.c.project_id)
    if caller.role == "user":
        member_of = authz.visible_project_ids(caller)
        stmt = stmt.where(sa.or_(g.c.project_id.in_(member_of), g.c.assigned_user_id == caller.user_id))
    if not include_deleted:
        stmt = stmt.where(g.c.deleted_at.is_(None))
    return stmt


def get(session: Session, kind: Kind, caller: Caller, guest_id: UUID, *, lock: bool = False) -> sa.Row:
    """One guest the caller may see (deleted-but-not-yet-destroyed ones included)."""
    stmt = list_query(kind, caller, include_deleted=True).where(kind.table.c.id == guest_id)
    if lock:
        stmt = stmt.with_for_update(of=kind.table)
    row = session.execute(stmt).first()
    if row is None:
        raise NotFound(f"no such {kind.name}")
    return row


def _cluster_id(session: Session, spec: Spec) -> UUID:
    c = t.clusters
    stmt = sa.select(c.c.id, c.c.name)
    stmt = stmt.where(c.c.id == spec.cluster_id) if spec.cluster_id else stmt.where(c.c.name == spec.cluster)
    row = session.execute(stmt).first()
    if row is None or (spec.cluster is not None and spec.cluster != row.name):
        raise InvalidInput("no such cluster", field="spec.cluster")
    spec.cluster, spec.cluster_id = row.name, None
    return row.id


def _spec_json(spec: Spec) -> dict[str, Any]:
    return spec.model_dump(mode="json", exclude={"cluster_id"})


def _check_if_match(row: sa.Row, if_match: int | None) -> None:
    if if_match is not None and if_match != row.resource_version:
        raise PreconditionFailed(
            f"the object changed (resource_version is {row.resource_version}, If-Match gave {if_match})"
        )


def _audit(session: Session, caller: Caller, kind: Kind, verb: str, row: Any, **details: Any) -> None:
    audit.record(session, caller, f"{kind.audit_prefix}.{verb}", target_kind=kind.name, target_id=row.id,
                 target_name=row.name, tenant_id=row.tenant_id, details=details or None)


def create(session: Session, kind: Kind, caller: Caller, doc: GuestDocument) -> sa.Row:
    """Admit (RBAC, quota) and store a new guest; the reconciler creates it."""
    if doc.kind is not None and doc.kind != kind.name:
        raise InvalidInput(f"kind must be {kind.name} here", field="kind")
    project = projects.resolve(session, caller, doc.metadata.project, doc.metadata.project_id,
                               field="metadata.project")
    projects.require_write(session, caller, project)
    cluster_id = _cluster_id(session, doc.spec)
    spec_rules.check_expiry(doc.spec)
    cluster_inventory.check_spec(session, cluster_id, doc.spec)
    quota.admit(session, project.id, quota.Ask.of(doc.spec))
    g = kind.table
    with dberrors.taken("metadata.name", doc.metadata.name, f"in project {project.name}"):
        guest_id = session.execute(
            sa.insert(g).values(
                tenant_id=project.tenant_id, project_id=project.id, cluster_id=cluster_id, name=doc.metadata.name,
                labels=doc.metadata.labels, spec=_spec_json(doc.spec), finalizers=[FINALIZER],
                expires_at=doc.spec.expires_at, created_by=caller.user_id,
            ).returning(g.c.id)
        ).scalar_one()
    row = get(session, kind, caller, guest_id)
    _audit(session, caller, kind, "create", row, project=project.name)
    return row


def _write_spec(session: Session, kind: Kind, caller: Caller, row: sa.Row, spec: Spec,
                labels: dict[str, str], verb: str) -> sa.Row:
    if row.deleted_at is not None:
        raise Conflict(f"the {kind.name} is being deleted")
    cluster_id = _cluster_id(session, spec)
    cluster_inventory.check_spec(session, cluster_id, spec)
    new_spec = _spec_json(spec)
    if cluster_id != row.cluster_id and row.status.get("vmid") is not None:
        raise InvalidInput("a provisioned guest cannot move to another cluster", field="spec.cluster")
    spec_rules.check_node_change(spec, row)
    spec_rules.check_expiry(spec, row.expires_at)
    quota.admit(session, row.project_id, quota.Ask.of(spec), exclude=row.id)
    g = kind.table
    changed = new_spec != row.spec
    session.execute(
        sa.update(g).where(g.c.id == row.id).values(
            spec=new_spec, labels=labels, cluster_id=cluster_id, expires_at=spec.expires_at,
            generation=g.c.generation + (1 if changed else 0), resource_version=g.c.resource_version + 1,
            updated_at=sa.func.now(),
        )
    )
    updated = get(session, kind, caller, row.id)
    _audit(session, caller, kind, verb, updated, generation=updated.generation)
    return updated


def _require_guest_write(session: Session, caller: Caller, row: sa.Row) -> None:
    project = projects.get(session, caller, row.project_id) if caller.role != "user" else None
    if project is None:
        if not authz.is_member(session, caller, row.project_id):
            raise PermissionDenied("only project members may change this guest")
        return
    projects.require_write(session, caller, project)


def replace(session: Session, kind: Kind, caller: Caller, guest_id: UUID, doc: GuestDocument,
            if_match: int | None, *, manager: str = "api") -> sa.Row:
    """Replace the spec and labels (name and project are immutable), as ``manager`` (``api`` or a git source)."""
    row = get(session, kind, caller, guest_id, lock=True)
    _require_guest_write(session, caller, row)
    _check_if_match(row, if_match)
    gitops_ownership.require_writer(kind, row, manager)
    if doc.metadata.name != row.name:
        raise InvalidInput("the name cannot change", field="metadata.name")
    if (doc.metadata.project_id and doc.metadata.project_id != row.project_id) or (
        doc.metadata.project and doc.metadata.project != row.project_name
    ):
        raise InvalidInput("the project cannot change", field="metadata.project")
    if doc.kind is not None and doc.kind != kind.name:
        raise InvalidInput(f"kind must be {kind.name} here", field="kind")
    return _write_spec(session, kind, caller, row, doc.spec, doc.metadata.labels, "update")


def patch(session: Session, kind: Kind, caller: Caller, guest_id: UUID, body: GuestPatch,
          if_match: int | None) -> sa.Row:
    """Merge some spec fields and/or replace the labels."""
    row = get(session, kind, caller, guest_id, lock=True)
    _require_guest_write(session, caller, row)
    _check_if_match(row, if_match)
    gitops_ownership.require_writer(kind, row)
    merged = {**row.spec, **body.spec_fields()}
    try:
        spec = Spec.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise InvalidInput(f"spec.{where}: {err['msg']}", field=f"spec.{where}") from exc
    labels = body.labels if body.labels is not None else row.labels
    return _write_spec(session, kind, caller, row, spec, labels, "update")


def delete(session: Session, kind: Kind, caller: Caller, guest_id: UUID, if_match: int | None, *,
           manager: str = "api") -> sa.Row:
    """Mark the guest deleted, as ``manager``; the reconciler destroys it and removes the row."""
    row = get(session, kind, caller, guest_id, lock=True)
    _require_guest_write(session, caller, row)
    _check_if_match(row, if_match)
    gitops_ownership.require_writer(kind, row, manager)
    if row.deleted_at is None:
        g = kind.table
        session.execute(
            sa.update(g).where(g.c.id == row.id).values(
                deleted_at=sa.func.now(), resource_version=g.c.resource_version + 1, updated_at=sa.func.now()
            )
        )
        _audit(session, caller, kind, "delete", row)
    return get(session, kind, caller, guest_id)


def abandon(session: Session, kind: Kind, caller: Caller, guest_id: UUID, if_match: int | None) -> sa.Row:
    """Forget the guest (admins only): its row goes now, with no destroy; the Proxmox guest (``status.vmid``
    on ``status.node``) is left as it is, and its pending actions fail. Returns the row as it was."""
    row = get(session, kind, caller, guest_id, lock=True)  # first: a guest the caller cannot see is a 404
    authz.require_admin(caller, "abandon guests")
    _check_if_match(row, if_match)
    a = t.guest_actions
    session.execute(sa.update(a).where(a.c.target_id == row.id, a.c.state == "pending")
                    .values(state="failed", handled_at=sa.func.now()))
    session.execute(sa.delete(kind.table).where(kind.table.c.id == row.id))
    status = row.status or {}
    _audit(session, caller, kind, "abandon", row, vmid=status.get("vmid"), node=status.get("node"),
           cluster_id=str(row.cluster_id) if row.cluster_id else None)
    return row


def act(session: Session, kind: Kind, caller: Caller, guest_id: UUID, action: str) -> sa.Row:
    """Record a power action and set the desired power state (members, managers and the assigned user)."""
    if action not in ACTION_POWER:
        raise NotFound(f"no such action {action!r}")
    row = get(session, kind, caller, guest_id, lock=True)
    if row.deleted_at is not None:
        raise Conflict(f"the {kind.name} is being deleted")
    power = ACTION_POWER[action]
    if action == "reboot" and row.spec.get("power") != "running":
        raise Conflict("only a running guest can be rebooted; start it instead")
    g = kind.table
    if power is not None and row.spec.get("power") != power:
        session.execute(
            sa.update(g).where(g.c.id == row.id).values(
                spec=g.c.spec.op("||")(sa.func.jsonb_build_object("power", power)),
                generation=g.c.generation + 1, resource_version=g.c.resource_version + 1, updated_at=sa.func.now(),
            )
        )
    request = session.execute(
        sa.insert(t.guest_actions).values(
            tenant_id=row.tenant_id, target_kind=kind.name, target_id=row.id, action=action,
            requested_by=caller.user_id,
        ).returning(t.guest_actions)
    ).one()
    _audit(session, caller, kind, action, row, action_id=str(request.id))
    return request


def assign(session: Session, kind: Kind, caller: Caller, guest_id: UUID, user_id: UUID | None) -> sa.Row:
    """Assign the guest to one user of its tenant (managers), who may then see and power it."""
    row = get(session, kind, caller, guest_id, lock=True)
    authz.require_manager(caller, "assign guests", row.tenant_id)
    if user_id is not None:
        u = t.users
        found = session.execute(
            sa.select(u.c.id).where(u.c.id == user_id, u.c.tenant_id == row.tenant_id)
        ).first()
        if found is None:
            raise InvalidInput("no such user in the guest's tenant", field="user_id")
    g = kind.table
    session.execute(
        sa.update(g).where(g.c.id == row.id).values(
            assigned_user_id=user_id, resource_version=g.c.resource_version + 1, updated_at=sa.func.now()
        )
    )
    _audit(session, caller, kind, "assign", row, user_id=str(user_id) if user_id else None)
    return get(session, kind, caller, guest_id)
