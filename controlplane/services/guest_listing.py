"""Both guest kinds in one list, for the portal's home page: filters (project, kind, observed power,
readiness, text), keyset pagination, and who is assigned (for managers and admins). What a caller may see
is decided by ``guests.list_query``, as for the REST API."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from controlplane.errors import InvalidInput
from controlplane.models import tables as t
from controlplane.services import guests, projects
from controlplane.services.caller import Caller
from controlplane.services.guests import CONTAINER, VM, Kind
from controlplane.services.listing import ListParams, paginate

KINDS = {"vm": VM, "container": CONTAINER}
READY = [{"type": "Ready", "status": "True"}]


@dataclass
class GuestFilter:
    """What the list is narrowed to; empty fields do not filter."""

    project: str = ""
    kind: str = ""
    power: str = ""
    ready: str = ""

    def kinds(self) -> list[Kind]:
        """The guest kinds asked for (both when not given)."""
        if not self.kind:
            return [VM, CONTAINER]
        if self.kind not in KINDS:
            raise InvalidInput("kind is 'vm' or 'container'", field="kind")
        return [KINDS[self.kind]]


def _branch(kind: Kind, caller: Caller, flt: GuestFilter) -> sa.Select:
    g = kind.table
    stmt = guests.list_query(kind, caller, include_deleted=True)
    stmt = stmt.add_columns(sa.literal(kind.name).label("kind"), g.c.status["ipv4"].astext.label("ipv4"))
    if caller.role != "user":
        stmt = stmt.outerjoin(t.users, t.users.c.id == g.c.assigned_user_id).add_columns(
            t.users.c.email.label("assigned_email"))
    else:
        stmt = stmt.add_columns(sa.null().cast(sa.Text).label("assigned_email"))
    if flt.project:
        stmt = stmt.where(t.projects.c.name == flt.project)
    if flt.power:
        if flt.power not in ("running", "stopped"):
            raise InvalidInput("power is 'running' or 'stopped'", field="power")
        stmt = stmt.where(g.c.status["power"].astext == flt.power)
    if flt.ready:
        if flt.ready not in ("yes", "no"):
            raise InvalidInput("ready is 'yes' or 'no'", field="ready")
        is_ready = g.c.conditions.contains(READY)
        stmt = stmt.where(is_ready if flt.ready == "yes" else sa.not_(is_ready))
    return stmt


def list_guests(session: Session, caller: Caller, flt: GuestFilter, params: ListParams
                ) -> tuple[list[sa.Row], str | None]:
    """One page of the guests the caller may see (VMs and containers together), sorted by name by default."""
    branches = [_branch(kind, caller, flt) for kind in flt.kinds()]
    union = (branches[0] if len(branches) == 1 else sa.union_all(*branches)).subquery("guest")
    return paginate(
        session, sa.select(union), params, id_column=union.c.id, default_sort="name",
        sortable={"name": union.c.name, "created_at": union.c.created_at, "updated_at": union.c.updated_at},
        search=[union.c.name, union.c.project_name, union.c.ipv4],
    )


def project_names(session: Session, caller: Caller) -> list[str]:
    """The names of the projects the caller may see, for the project filter."""
    stmt = projects.list_query(caller).with_only_columns(t.projects.c.name).distinct().order_by(t.projects.c.name)
    return [str(name) for name in session.execute(stmt).scalars()]
