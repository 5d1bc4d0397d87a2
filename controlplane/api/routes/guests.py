"""``/api/v1/vms`` and ``/api/v1/containers``: the guest documents, their power actions and assignment.

One router factory serves both kinds; reads carry an ``ETag``, writes honour ``If-Match`` (412).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import Annotated, Any, Literal
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Response, status
from sqlalchemy.orm import Session

from controlplane.api.deps import DbDep
from controlplane.api.etag import ExpectedVersion, tagged
from controlplane.api.listparams import list_params, multi
from controlplane.api.rendered import RenderedDocuments, page_json, rendered_items
from controlplane.errors import InvalidInput
from controlplane.models import tables as t
from controlplane.models.common import Page
from controlplane.models.guest import (
    ActionPublic,
    AssignBody,
    GuestDocument,
    GuestPatch,
    GuestPublic,
)
from controlplane.services import gitops_ownership as ownership
from controlplane.services import guests
from controlplane.services.caller import Caller
from controlplane.services.guests import Kind
from controlplane.services.listing import ListParams, paginate

Action = Literal["start", "stop", "shutdown", "reboot"]


def document(kind: Kind, row: Any) -> dict[str, Any]:
    """A guest row as the plain data of the document the API returns (validated by :class:`GuestPublic`)."""
    status_doc = dict(row.status or {})
    status_doc.setdefault("observed_generation", row.observed_generation)
    status_doc["conditions"] = row.conditions or []
    return {
        "kind": kind.name,
        "id": row.id,
        "metadata": {
            "name": row.name, "project": row.project_name, "project_id": row.project_id, "tenant_id": row.tenant_id,
            "labels": row.labels or {}, "generation": row.generation, "resource_version": row.resource_version,
            "assigned_user_id": row.assigned_user_id, "created_at": row.created_at, "updated_at": row.updated_at,
            "deleted_at": row.deleted_at, "managed_by": row.managed_by, "source": ownership.source_of(row),
        },
        "spec": row.spec,
        "status": status_doc,
    }


def version_key(row: Any) -> Hashable:
    """What a guest's rendered document depends on that can change: its row version and its project's name."""
    return (row.id, row.row_version, row.resource_version, row.project_name)


def public(kind: Kind, row: Any) -> GuestPublic:
    """A guest row as the document the API returns."""
    return GuestPublic.model_validate(document(kind, row))


def _filters(kind: Kind, stmt: sa.Select, *, project_id: list[UUID] | None, project: list[str] | None,
             cluster_id: list[UUID] | None, cluster: list[str] | None, name: list[str] | None,
             power: list[str] | None, node: list[str] | None, label: list[str] | None) -> sa.Select:
    g = kind.table
    if project_id:
        stmt = stmt.where(g.c.project_id.in_(project_id))
    if names := multi(project):
        stmt = stmt.where(t.projects.c.name.in_(names))
    if cluster_id:
        stmt = stmt.where(g.c.cluster_id.in_(cluster_id))
    if names := multi(cluster):
        stmt = stmt.where(g.c.cluster_id.in_(sa.select(t.clusters.c.id).where(t.clusters.c.name.in_(names))))
    if names := multi(name):
        stmt = stmt.where(g.c.name.in_(names))
    if values := multi(power):
        stmt = stmt.where(g.c.spec["power"].astext.in_(values))
    if values := multi(node):
        stmt = stmt.where(g.c.spec["node"].astext.in_(values))
    for pair in multi(label) or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInput("label filters look like key=value", field="label")
        stmt = stmt.where(g.c.labels.contains({key: value}))
    return stmt


def guest_router(kind: Kind, prefix: str) -> APIRouter:
    """The router of one guest kind."""
    router = APIRouter(prefix=prefix, tags=[prefix.strip("/")])
    g = kind.table
    noun = kind.audit_prefix
    title = noun.capitalize()
    cache = RenderedDocuments()
    # PostgreSQL's version of a row: new on every write of it (a status change included)
    row_version = sa.literal_column(f"{g.name}.xmin::text").label("row_version")

    @router.get("", response_model=Page[GuestPublic], name=f"list_{noun}s", operation_id=f"list{title}s")
    def list_guests(
        db: DbDep, params: Annotated[ListParams, Depends(list_params)],
        project_id: Annotated[list[UUID] | None, Query()] = None,
        project: Annotated[list[str] | None, Query(description="project names")] = None,
        cluster_id: Annotated[list[UUID] | None, Query()] = None,
        cluster: Annotated[list[str] | None, Query(description="cluster names")] = None,
        name: Annotated[list[str] | None, Query()] = None,
        power: Annotated[list[str] | None, Query(description="desired power state")] = None,
        node: Annotated[list[str] | None, Query()] = None,
        label: Annotated[list[str] | None, Query(description="key=value")] = None,
        include_deleted: bool = False,
    ) -> Response:
        stmt = _filters(kind, guests.list_query(kind, db.caller, include_deleted=include_deleted),
                        project_id=project_id, project=project, cluster_id=cluster_id, cluster=cluster,
                        name=name, power=power, node=node, label=label)
        return Response(db.read(lambda s: page(s, db.caller, stmt, params)), media_type="application/json")

    def page(session: Session, caller: Caller, stmt: sa.Select, params: ListParams) -> str:
        """One page as JSON: the ids and row versions the caller may see, then the documents not yet
        rendered at those versions (read and validated once per version)."""
        keyed = stmt.with_only_columns(g.c.id, g.c.resource_version, t.projects.c.name.label("project_name"),
                                       row_version)
        rows, cursor = paginate(
            session, keyed, params, id_column=g.c.id, default_sort="name",
            sortable={"name": g.c.name, "created_at": g.c.created_at, "updated_at": g.c.updated_at},
            search=[g.c.name, sa.cast(g.c.labels, sa.Text)],
        )

        def render(ids: list[Any]) -> Iterator[tuple[Any, Hashable, str]]:
            full = guests.list_query(kind, caller, include_deleted=True).add_columns(row_version)
            for row in session.execute(full.where(g.c.id.in_(ids))):
                yield row.id, version_key(row), public(kind, row).model_dump_json()

        items = rendered_items(cache, [(row.id, version_key(row)) for row in rows], render)
        return page_json(items, cursor)

    @router.post("", response_model=GuestPublic, status_code=status.HTTP_201_CREATED, name=f"create_{noun}",
                 operation_id=f"create{title}", responses={409: {"description": "name taken or quota exceeded"}})
    def create_guest(body: GuestDocument, db: DbDep, response: Response) -> GuestPublic:
        row = db.write(f"{noun}.create", lambda s: guests.create(s, kind, db.caller, body), target_kind=kind.name)
        response.headers["Location"] = f"/api/v1{prefix}/{row.id}"
        return public(kind, tagged(response, row))

    @router.get("/{guest_id}", response_model=GuestPublic, name=f"get_{noun}", operation_id=f"get{title}")
    def get_guest(guest_id: UUID, db: DbDep, response: Response) -> GuestPublic:
        return public(kind, tagged(response, db.read(lambda s: guests.get(s, kind, db.caller, guest_id))))

    @router.put("/{guest_id}", response_model=GuestPublic, name=f"replace_{noun}", operation_id=f"replace{title}")
    def replace_guest(guest_id: UUID, body: GuestDocument, db: DbDep, response: Response,
                      expected: ExpectedVersion) -> GuestPublic:
        row = db.write(f"{noun}.update", lambda s: guests.replace(s, kind, db.caller, guest_id, body, expected),
                       target_kind=kind.name, target=guest_id)
        return public(kind, tagged(response, row))

    @router.patch("/{guest_id}", response_model=GuestPublic, name=f"patch_{noun}", operation_id=f"patch{title}")
    def patch_guest(guest_id: UUID, body: GuestPatch, db: DbDep, response: Response,
                    expected: ExpectedVersion) -> GuestPublic:
        row = db.write(f"{noun}.update", lambda s: guests.patch(s, kind, db.caller, guest_id, body, expected),
                       target_kind=kind.name, target=guest_id)
        return public(kind, tagged(response, row))

    @router.delete("/{guest_id}", response_model=GuestPublic, status_code=status.HTTP_202_ACCEPTED,
                   name=f"delete_{noun}", operation_id=f"delete{title}")
    def delete_guest(guest_id: UUID, db: DbDep, response: Response, expected: ExpectedVersion) -> GuestPublic:
        row = db.write(f"{noun}.delete", lambda s: guests.delete(s, kind, db.caller, guest_id, expected),
                       target_kind=kind.name, target=guest_id)
        return public(kind, tagged(response, row))

    @router.post("/{guest_id}/abandon", response_model=GuestPublic, name=f"abandon_{noun}",
                 operation_id=f"abandon{title}", responses={403: {"description": "admins only"}, 412: {}})
    def abandon_guest(guest_id: UUID, db: DbDep, expected: ExpectedVersion) -> GuestPublic:
        """Forget the guest without destroying it (admins): the row goes at once, the Proxmox guest stays."""
        row = db.write(f"{noun}.abandon", lambda s: guests.abandon(s, kind, db.caller, guest_id, expected),
                       target_kind=kind.name, target=guest_id)
        return public(kind, row)

    @router.post("/{guest_id}/actions/{action}", response_model=ActionPublic,
                 status_code=status.HTTP_202_ACCEPTED, name=f"act_{noun}", operation_id=f"{noun}Action")
    def act(guest_id: UUID, action: Action, db: DbDep) -> ActionPublic:
        row = db.write(f"{noun}.{action}", lambda s: guests.act(s, kind, db.caller, guest_id, action),
                       target_kind=kind.name, target=guest_id)
        return ActionPublic.model_validate(row, from_attributes=True)

    @router.post("/{guest_id}/assign", response_model=GuestPublic, name=f"assign_{noun}", operation_id=f"assign{title}")
    def assign(guest_id: UUID, body: AssignBody, db: DbDep, response: Response) -> GuestPublic:
        row = db.write(f"{noun}.assign", lambda s: guests.assign(s, kind, db.caller, guest_id, body.user_id),
                       target_kind=kind.name, target=guest_id)
        return public(kind, tagged(response, row))

    return router
