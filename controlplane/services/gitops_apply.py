"""Apply a desired set of documents in one transaction: all of it, or (on any error) none of it.

Each document goes through the same use cases as the API (``guests.create`` / ``replace`` / ``delete``,
``projects.create`` / ``update`` and members, with their authorization and quota checks); an error names
the file and line of its document. Projects go first, so guests may be in a project the same set makes.
``on_change`` hears of each change as it is carried out (the streamed progress of a long apply); nothing
is committed before the end. A dry run does everything, then rolls back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from controlplane.errors import Conflict, ControlPlaneError, InvalidInput, PermissionDenied
from controlplane.models import tables as t
from controlplane.models.gitops import ApplyRequest, ApplyResult, Change, DocumentIn, ProjectFile
from controlplane.models.guest import GuestDocument
from controlplane.services import gitops_ownership as ownership
from controlplane.services import gitops_projects, guests
from controlplane.services.caller import Caller
from controlplane.services.gitops_plan import Desired, Live, is_drifted, plan
from controlplane.services.gitops_projects import DesiredProject

KINDS = {"VirtualMachine": guests.VM, "Container": guests.CONTAINER}
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
Progress = Callable[[int, int, Change], None]
"""Told of each change once it is carried out: its position (from 1), the number of changes, the change."""


class DryRun(Exception):
    """Raised inside the transaction of a dry run to roll it back, carrying the result."""

    def __init__(self, result: ApplyResult) -> None:
        super().__init__("dry run")
        self.result = result


def _validated(model: type[M], item: DocumentIn) -> M:
    try:
        return model.model_validate(item.document)
    except ValidationError as exc:
        err = exc.errors()[0]
        path = ".".join(str(p) for p in err["loc"])
        raise InvalidInput(f"{item.file}:{item.line}: {path}: {err['msg']}", field=path) from exc


def _parse(request: ApplyRequest) -> tuple[list[DesiredProject], list[Desired]]:
    desired_projects, desired = [], []
    for item in request.documents:
        where = f"{item.file}:{item.line}"
        kind = item.document.get("kind")
        if kind == gitops_projects.KIND:
            desired_projects.append(DesiredProject(_validated(ProjectFile, item), item.file, item.line))
            continue
        if kind not in KINDS:
            raise InvalidInput(f"{where}: kind must be VirtualMachine, Container or Project (got {kind!r})",
                               field="kind")
        doc = _validated(GuestDocument, item)
        if doc.metadata.project is None:
            raise InvalidInput(f"{where}: metadata.project: give the project by name", field="metadata.project")
        desired.append(Desired(doc, item.file, item.line))
    seen: dict[tuple[str, str], DesiredProject] = {}
    for want in desired_projects:
        first = seen.setdefault(want.key, want)
        if first is not want:
            raise InvalidInput(f"{want.file}:{want.line}: Project {want.key[1]!r} is also defined at "
                               f"{first.file}:{first.line}", field="metadata.name")
    return desired_projects, desired


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


def no_progress(index: int, total: int, change: Change) -> None:
    """A ``Progress`` that ignores what it hears."""


def apply(session: Session, caller: Caller, request: ApplyRequest, *, pulled: bool = False,
          on_change: Progress = no_progress) -> ApplyResult:
    """Plan the set against the live objects and carry the plan out; conflicts refuse the whole set.

    Only the sync of a registered git source (``pulled``) may apply as that source; a pushed set (the
    CLI) uses a source name no git source has, so a source's objects change only through its repository.
    """
    if not pulled:
        _require_push_source(session, request.source)
    desired_projects, desired = _parse(request)
    live_projects = gitops_projects.live(session, caller) if desired_projects else []
    project_changes = gitops_projects.plan(desired_projects, [p.document() for p in live_projects])
    live = live_objects(session, caller)
    manager = ownership.git_manager(request.source)
    changes = plan(desired, live, manager, prune=request.prune, adopt=request.adopt)
    conflicts = [c for c in changes if c.action == "conflict"]
    if conflicts:
        listed = "; ".join(f"{c.file}:{c.line}: {c.kind} {c.name!r} {c.message}" for c in conflicts)
        raise Conflict(f"{len(conflicts)} conflicting object(s), nothing applied: {listed}")
    total = len(project_changes) + len(changes)
    projects_wanted = {d.key: d for d in desired_projects}
    projects_live = {p.key: p for p in live_projects}
    for index, change in enumerate(project_changes, 1):
        key = (change.project, change.name)
        gitops_projects.execute(session, caller, change, projects_wanted[key], projects_live.get(key))
        on_change(index, total, change)
    wanted = {d.key: d for d in desired}
    by_key = {obj.key: obj for obj in live}
    for index, change in enumerate(changes, len(project_changes) + 1):
        key = (change.kind, change.project, change.name)
        _execute(session, caller, request, change, wanted.get(key), by_key.get(key))
        on_change(index, total, change)
    result = ApplyResult(applied=not request.dry_run, changes=[*project_changes, *changes])
    if request.dry_run:
        raise DryRun(result)
    return result
