"""Apply a desired set of documents in one transaction: all of it, or (on any error) none of it.

Each document goes through the same use cases as the API (``guests.create`` / ``replace`` / ``delete``,
with their authorization and quota checks); an error names the file and line of its document. A dry run
does everything, then rolls back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.orm import Session

from controlplane.errors import Conflict, ControlPlaneError, InvalidInput, PermissionDenied
from controlplane.models import tables as t
from controlplane.models.gitops import ApplyRequest, ApplyResult, Change
from controlplane.models.guest import GuestDocument
from controlplane.services import gitops_ownership as ownership
from controlplane.services import guests
from controlplane.services.caller import Caller
from controlplane.services.gitops_plan import Desired, Live, is_drifted, plan

KINDS = {"VirtualMachine": guests.VM, "Container": guests.CONTAINER}
T = TypeVar("T")


class DryRun(Exception):
    """Raised inside the transaction of a dry run to roll it back, carrying the result."""

    def __init__(self, result: ApplyResult) -> None:
        super().__init__("dry run")
        self.result = result


def _parse(request: ApplyRequest) -> list[Desired]:
    desired = []
    for item in request.documents:
        where = f"{item.file}:{item.line}"
        kind = item.document.get("kind")
        if kind not in KINDS:
            raise InvalidInput(f"{where}: kind must be VirtualMachine or Container (got {kind!r})", field="kind")
        try:
            doc = GuestDocument.model_validate(item.document)
        except ValidationError as exc:
            err = exc.errors()[0]
            path = ".".join(str(p) for p in err["loc"])
            raise InvalidInput(f"{where}: {path}: {err['msg']}", field=path) from exc
        if doc.metadata.project is None:
            raise InvalidInput(f"{where}: metadata.project: give the project by name", field="metadata.project")
        desired.append(Desired(doc, item.file, item.line))
    return desired


def live_objects(session: Session, caller: Caller) -> list[Live]:
    """Every guest the caller sees, as the planner needs it."""
    out = []
    for kind in KINDS.values():
        for row in session.execute(guests.list_query(kind, caller)).all():
            out.append(Live(kind=kind.name, project=row.project_name, name=row.name, id=row.id, spec=row.spec,
                            labels=row.labels or {}, managed_by=row.managed_by,
                            drifted=is_drifted(row.conditions or []), source_file=row.source_file,
                            source_commit=row.source_commit))
    return out


def _at(change: Change, step: Callable[[], T]) -> T:
    try:
        return step()
    except ControlPlaneError as exc:
        where = f"{change.file}:{change.line}: " if change.file else ""
        raise type(exc)(f"{where}{change.kind} {change.name!r}: {exc.message}", field=exc.field) from exc


def _execute(session: Session, caller: Caller, request: ApplyRequest, change: Change, want: Desired | None,
             have: Live | None) -> None:
    kind = KINDS[change.kind]
    manager = ownership.git_manager(request.source)
    source: dict[str, Any] = {"repository": request.repository, "file": change.file, "commit": request.commit}
    if change.action == "create" and want is not None:
        row = _at(change, lambda: guests.create(session, kind, caller, want.doc))
        ownership.mark(session, kind, row.id, manager, **source)
    elif change.action in ("update", "adopt") and want is not None and have is not None:
        if change.action == "adopt":
            ownership.mark(session, kind, have.id, manager, **source)
        if change.fields:
            _at(change, lambda: guests.replace(session, kind, caller, have.id, want.doc, None, manager=manager))
        ownership.mark(session, kind, have.id, manager, **source)
    elif change.action == "unchanged" and want is not None and have is not None:
        if (have.source_file, have.source_commit) != (change.file, request.commit):
            ownership.mark(session, kind, have.id, manager, **source)
    elif change.action == "delete" and have is not None:
        _at(change, lambda: guests.delete(session, kind, caller, have.id, None, manager=manager))


def _require_push_source(session: Session, name: str) -> None:
    pulled = session.execute(sa.select(t.git_sources.c.id).where(t.git_sources.c.name == name)).first()
    if pulled is not None:
        raise PermissionDenied(f"git:{name} is a git source the control plane pulls; push to its repository "
                               "instead, or apply under another --source", field="source")


def apply(session: Session, caller: Caller, request: ApplyRequest, *, pulled: bool = False) -> ApplyResult:
    """Plan the set against the live objects and carry the plan out; conflicts refuse the whole set.

    Only the sync of a registered git source (``pulled``) may apply as that source; a pushed set (the
    CLI) uses a source name no git source has, so a source's objects change only through its repository.
    """
    if not pulled:
        _require_push_source(session, request.source)
    desired = _parse(request)
    live = live_objects(session, caller)
    manager = ownership.git_manager(request.source)
    changes = plan(desired, live, manager, prune=request.prune, adopt=request.adopt)
    conflicts = [c for c in changes if c.action == "conflict"]
    if conflicts:
        listed = "; ".join(f"{c.file}:{c.line}: {c.kind} {c.name!r} {c.message}" for c in conflicts)
        raise Conflict(f"{len(conflicts)} conflicting object(s), nothing applied: {listed}")
    wanted = {d.key: d for d in desired}
    by_key = {obj.key: obj for obj in live}
    for change in changes:
        key = (change.kind, change.project, change.name)
        _execute(session, caller, request, change, wanted.get(key), by_key.get(key))
    result = ApplyResult(applied=not request.dry_run, changes=changes)
    if request.dry_run:
        raise DryRun(result)
    return result
