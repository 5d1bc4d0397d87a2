"""``/api/v1/runs`` (reconciler runs and their logs) and ``/api/v1/audit`` (searchable audit events)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from controlplane.api.deps import DbDep
from controlplane.api.listparams import list_params, multi
from controlplane.models import tables as t
from controlplane.models.common import Page
from controlplane.models.records import AuditEventPublic, RunLogLine, RunPublic
from controlplane.services import audit, runs
from controlplane.services.listing import ListParams, paginate

router = APIRouter()
R = t.runs
A = t.audit_events


@router.get("/runs", response_model=Page[RunPublic], operation_id="listRuns", tags=["runs"])
def list_runs(
    db: DbDep, params: Annotated[ListParams, Depends(list_params)],
    target_id: Annotated[list[UUID] | None, Query()] = None,
    target: Annotated[list[str] | None, Query(description="target names")] = None,
    target_kind: Annotated[list[str] | None, Query()] = None,
    state: Annotated[list[str] | None, Query()] = None,
) -> Page[RunPublic]:
    """Reconciler runs the caller may see, newest first by default."""
    stmt = runs.list_query(db.caller)
    if target_id:
        stmt = stmt.where(R.c.target_id.in_(target_id))
    if names := multi(target):
        stmt = stmt.where(R.c.target_name.in_(names))
    if kinds := multi(target_kind):
        stmt = stmt.where(R.c.target_kind.in_(kinds))
    if states := multi(state):
        stmt = stmt.where(R.c.state.in_(states))
    rows, cursor = db.read(lambda s: paginate(
        s, stmt, params, id_column=R.c.id, default_sort="-created_at",
        sortable={"created_at": R.c.created_at, "target_name": R.c.target_name}, search=[R.c.target_name, R.c.action],
    ))
    return Page(items=[RunPublic.model_validate(r, from_attributes=True) for r in rows], next_cursor=cursor)


@router.get("/runs/{run_id}", response_model=RunPublic, operation_id="getRun", tags=["runs"])
def get_run(run_id: UUID, db: DbDep) -> RunPublic:
    """One run."""
    return RunPublic.model_validate(db.read(lambda s: runs.get(s, db.caller, run_id)), from_attributes=True)


@router.get("/runs/{run_id}/log", response_model=list[RunLogLine], operation_id="getRunLog", tags=["runs"])
def get_run_log(
    run_id: UUID, db: DbDep, after: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> list[RunLogLine]:
    """A run's log lines after sequence number ``after``."""
    rows = db.read(lambda s: runs.log(s, db.caller, run_id, after=after, limit=limit))
    return [RunLogLine.model_validate(r, from_attributes=True) for r in rows]


@router.get("/audit", response_model=Page[AuditEventPublic], operation_id="searchAudit", tags=["audit"])
def search_audit(
    db: DbDep, params: Annotated[ListParams, Depends(list_params)],
    actor: Annotated[list[str] | None, Query()] = None,
    actor_id: Annotated[list[UUID] | None, Query()] = None,
    action: Annotated[list[str] | None, Query(description="e.g. vm.create, auth.*")] = None,
    target: Annotated[list[str] | None, Query(description="target id or name")] = None,
    target_kind: Annotated[list[str] | None, Query()] = None,
    result: Annotated[list[str] | None, Query()] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[AuditEventPublic]:
    """Audit events the caller may read (users: their own), newest first by default."""
    flt = audit.AuditFilter(actor=multi(actor), actor_id=actor_id, action=multi(action), target=multi(target),
                            target_kind=multi(target_kind), result=multi(result), since=since, until=until)
    stmt = audit.search_query(db.caller, flt)

    def run(s: Any) -> Page[AuditEventPublic]:
        rows, cursor = paginate(s, stmt, params, id_column=A.c.id, default_sort="-id",
                                sortable={"id": A.c.id, "created_at": A.c.created_at},
                                search=[A.c.actor, A.c.action, A.c.target_name])
        return Page(items=[AuditEventPublic.model_validate(r, from_attributes=True) for r in rows],
                    next_cursor=cursor)

    return db.read(run)
