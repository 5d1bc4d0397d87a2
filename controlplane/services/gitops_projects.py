"""``kind: Project`` documents: plan them against the live projects and apply them through the same use
cases as the REST API (``projects.create`` / ``update`` / ``add_member`` / ``remove_member``), so the same
rules hold: managers create projects and manage members in their tenant, only admins set quotas.

A project's key is (tenant, name). A field its document leaves out is left as it is; ``members`` lists
exactly the members (by email). Projects are never deleted from files (not even with prune): deleting
one is a decision made through the API, once its guests are gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import Session

from controlplane.errors import ControlPlaneError, InvalidInput
from controlplane.models import tables as t
from controlplane.models.gitops import Change, FieldChange, ProjectFile, ProjectMetadata, ProjectSpec
from controlplane.models.tenancy import MembershipCreate, ProjectCreate, ProjectUpdate, Quota
from controlplane.services import projects, users
from controlplane.services.caller import Caller
from controlplane.services.gitops_plan import field_diff

KIND = "Project"


@dataclass(frozen=True)
class DesiredProject:
    """A Project document of the set, and where it was read."""

    doc: ProjectFile
    file: str
    line: int

    @property
    def key(self) -> tuple[str, str]:
        """(tenant, name)."""
        return key_of(self.doc)


@dataclass(frozen=True)
class LiveProject:
    """A live project as planning needs it: members by email (with their user ids, to remove them)."""

    tenant: str
    name: str
    description: str
    quota: Quota
    members: dict[str, UUID] = field(default_factory=dict)
    id: UUID | None = None

    @property
    def key(self) -> tuple[str, str]:
        """(tenant, name)."""
        return (self.tenant, self.name)

    def document(self) -> ProjectFile:
        """The project as a desired-state document (what ``export`` writes)."""
        spec = ProjectSpec(description=self.description, quota=self.quota, members=sorted(self.members))
        return ProjectFile(kind=KIND, metadata=ProjectMetadata(name=self.name, tenant=self.tenant), spec=spec)


def _managed(spec: ProjectSpec) -> dict[str, Any]:
    values = spec.model_dump(mode="json", exclude_none=True)
    if "members" in values:
        values["members"] = sorted({m.strip().lower() for m in values["members"]})
    return values


def key_of(doc: ProjectFile) -> tuple[str, str]:
    """(tenant, name) of a Project document."""
    return (doc.metadata.tenant, doc.metadata.name)


def plan(desired: list[DesiredProject], live: list[ProjectFile]) -> list[Change]:
    """Create, update (the fields the documents give, field by field) or unchanged, per Project document,
    against the live projects as documents (``LiveProject.document()`` on the server, ``GET
    /api/v1/gitops/projects`` for ``diff``)."""
    by_key = {key_of(p): p for p in live}
    changes = []
    for want in desired:
        tenant, name = want.key
        common = {"kind": KIND, "project": tenant, "name": name, "file": want.file, "line": want.line}
        have = by_key.get(want.key)
        if have is None:
            changes.append(Change(action="create", **common))
            continue
        wanted = _managed(want.doc.spec)
        current = {k: v for k, v in _managed(have.spec).items() if k in wanted}
        fields = field_diff({"spec": {k: v for k, v in current.items() if k != "members"}},
                            {"spec": {k: v for k, v in wanted.items() if k != "members"}})
        if current.get("members") != wanted.get("members"):
            fields.append(FieldChange(path="spec.members", old=current.get("members"), new=wanted.get("members")))
        changes.append(Change(action="update" if fields else "unchanged", fields=fields, **common))
    return changes


def live(session: Session, caller: Caller) -> list[LiveProject]:
    """Every project the caller sees, with its tenant's name and its members' emails (those the caller may
    see); two queries whatever the number of projects."""
    p, tn, m = t.projects, t.tenants, t.memberships
    rows = session.execute(projects.list_query(caller).add_columns(tn.c.name.label("tenant_name"))
                           .join(tn, tn.c.id == p.c.tenant_id)).all()
    emails = {u.id: u.email.lower() for u in session.execute(users.list_query(caller)).all()}
    members: dict[UUID, dict[str, UUID]] = {r.id: {} for r in rows}
    if rows:
        for row in session.execute(sa.select(m.c.project_id, m.c.user_id).where(m.c.project_id.in_(list(members)))):
            if row.user_id in emails:
                members[row.project_id][emails[row.user_id]] = row.user_id
    return [LiveProject(tenant=r.tenant_name, name=r.name, description=r.description, quota=projects.quota_of(r),
                        members=members[r.id], id=r.id) for r in rows]


def _at(change: Change, exc: ControlPlaneError) -> ControlPlaneError:
    where = f"{change.file}:{change.line}: " if change.file else ""
    return type(exc)(f"{where}Project {change.name!r}: {exc.message}", field=exc.field)


def _members(session: Session, caller: Caller, project_id: UUID, have: dict[str, UUID], want: list[str]) -> None:
    wanted = {email.strip().lower() for email in want}
    for email in sorted(wanted - set(have)):
        try:
            projects.add_member(session, caller, project_id, MembershipCreate(email=email))
        except InvalidInput as exc:
            raise InvalidInput(f"spec.members: {email}: {exc.message}", field="spec.members") from exc
    for email in sorted(set(have) - wanted):
        projects.remove_member(session, caller, project_id, have[email])


def execute(session: Session, caller: Caller, change: Change, want: DesiredProject, have: LiveProject | None) -> None:
    """Carry out one Project change (create or update); an error names the document's file and line."""
    spec = want.doc.spec
    try:
        if change.action == "create":
            row = projects.create(session, caller, ProjectCreate(
                name=want.doc.metadata.name, tenant=want.doc.metadata.tenant, description=spec.description or "",
                quota=spec.quota or Quota()))
            if spec.members:
                _members(session, caller, row.id, {}, spec.members)
        elif change.action == "update" and have is not None and have.id is not None:
            paths = {f.path.split(".")[1] for f in change.fields}
            if paths & {"description", "quota"}:
                projects.update(session, caller, have.id, ProjectUpdate(
                    description=spec.description if "description" in paths else None,
                    quota=spec.quota if "quota" in paths else None))
            if "members" in paths and spec.members is not None:
                _members(session, caller, have.id, have.members, spec.members)
    except ControlPlaneError as exc:
        raise _at(change, exc) from exc
