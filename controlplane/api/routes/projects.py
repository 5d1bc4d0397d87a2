"""``/api/v1/projects``: projects with quotas and usage, and their members."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response, status

from controlplane.api.deps import DbDep
from controlplane.api.etag import PRECONDITION, ExpectedVersion, tagged
from controlplane.api.listparams import list_params, multi
from controlplane.models import tables as t
from controlplane.models.common import Page
from controlplane.models.tenancy import (
    MembershipCreate,
    MembershipPublic,
    ProjectCreate,
    ProjectPublic,
    ProjectUpdate,
    Usage,
)
from controlplane.services import projects, quota, tenants
from controlplane.services.listing import ListParams, paginate

router = APIRouter(prefix="/projects", tags=["projects"])
P = t.projects


def _public(row: object) -> ProjectPublic:
    return ProjectPublic(
        id=row.id, tenant_id=row.tenant_id, name=row.name, description=row.description,  # type: ignore[attr-defined]
        quota=projects.quota_of(row), created_at=row.created_at, updated_at=row.updated_at,  # type: ignore[attr-defined]
        resource_version=row.resource_version,  # type: ignore[attr-defined]
    )


@router.get("", response_model=Page[ProjectPublic], operation_id="listProjects")
def list_projects(
    db: DbDep, params: Annotated[ListParams, Depends(list_params)],
    tenant_id: Annotated[list[UUID] | None, Query()] = None,
    tenant: Annotated[list[str] | None, Query(description="tenant names")] = None,
    name: Annotated[list[str] | None, Query()] = None,
) -> Page[ProjectPublic]:
    """Projects the caller may see, filtered by tenant (id or name) and name."""
    stmt = projects.list_query(db.caller)
    if tenant_id:
        stmt = stmt.where(P.c.tenant_id.in_(tenant_id))
    if names := multi(tenant):
        stmt = stmt.where(P.c.tenant_id.in_(tenants.ids_named(names)))
    if names := multi(name):
        stmt = stmt.where(P.c.name.in_(names))
    rows, cursor = db.read(lambda s: paginate(
        s, stmt, params, id_column=P.c.id, default_sort="name",
        sortable={"name": P.c.name, "created_at": P.c.created_at}, search=[P.c.name, P.c.description],
    ))
    return Page(items=[_public(r) for r in rows], next_cursor=cursor)


@router.post("", response_model=ProjectPublic, status_code=status.HTTP_201_CREATED, operation_id="createProject")
def create_project(body: ProjectCreate, db: DbDep, response: Response) -> ProjectPublic:
    """A new project (managers of the tenant, admins)."""
    row = db.write("project.create", lambda s: projects.create(s, db.caller, body), target_kind="Project")
    return _public(tagged(response, row))


@router.get("/{project_id}", response_model=ProjectPublic, operation_id="getProject")
def get_project(project_id: UUID, db: DbDep, response: Response) -> ProjectPublic:
    """One project (with its version as the ETag)."""
    return _public(tagged(response, db.read(lambda s: projects.get(s, db.caller, project_id))))


@router.get("/{project_id}/usage", response_model=Usage, operation_id="getProjectUsage")
def get_usage(project_id: UUID, db: DbDep) -> Usage:
    """What the project's guests take up (compare with its quota)."""

    def run(s: object) -> Usage:
        projects.get(s, db.caller, project_id)  # type: ignore[arg-type]
        return quota.usage(s, project_id)  # type: ignore[arg-type]

    return db.read(run)


@router.patch("/{project_id}", response_model=ProjectPublic, operation_id="updateProject", responses=PRECONDITION)
def update_project(project_id: UUID, body: ProjectUpdate, db: DbDep, response: Response,
                   expected: ExpectedVersion) -> ProjectPublic:
    """Change description or quota (If-Match: only while unchanged)."""
    row = db.write("project.update", lambda s: projects.update(s, db.caller, project_id, body, expected),
                   target_kind="Project", target=project_id)
    return _public(tagged(response, row))


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT, operation_id="deleteProject",
                responses=PRECONDITION)
def delete_project(project_id: UUID, db: DbDep, expected: ExpectedVersion) -> Response:
    """Delete a project without guests (If-Match: only while unchanged)."""
    db.write("project.delete", lambda s: projects.delete(s, db.caller, project_id, expected),
             target_kind="Project", target=project_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{project_id}/members", response_model=list[MembershipPublic], operation_id="listProjectMembers")
def list_members(project_id: UUID, db: DbDep) -> list[MembershipPublic]:
    """The project's members."""
    rows = db.read(lambda s: projects.list_members(s, db.caller, project_id))
    return [MembershipPublic.model_validate(r, from_attributes=True) for r in rows]


@router.post("/{project_id}/members", response_model=MembershipPublic, status_code=status.HTTP_201_CREATED,
             operation_id="addProjectMember")
def add_member(project_id: UUID, body: MembershipCreate, db: DbDep) -> MembershipPublic:
    """Make a user of the tenant a member."""
    row = db.write("project.member_add", lambda s: projects.add_member(s, db.caller, project_id, body),
                   target_kind="Project", target=project_id)
    return MembershipPublic.model_validate(row, from_attributes=True)


@router.delete("/{project_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT,
                operation_id="removeProjectMember")
def remove_member(project_id: UUID, user_id: UUID, db: DbDep) -> Response:
    """End a membership."""
    db.write("project.member_remove", lambda s: projects.remove_member(s, db.caller, project_id, user_id),
             target_kind="Project", target=project_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
