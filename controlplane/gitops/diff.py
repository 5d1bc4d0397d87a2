"""``controlplane diff``: the plan of the files against the server's live objects, read-only.

The plan is computed here from what ``GET /api/v1/vms``, ``/containers`` and ``/gitops/projects`` return,
by the same planners the server applies with, so a read-only API key is enough for a pull-request check.
Projects come first, as the server applies them.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from controlplane.gitops.client import KIND_PATHS, Client
from controlplane.gitops.validate import Loaded
from controlplane.models.gitops import Change, ProjectFile
from controlplane.models.guest import GuestDocument
from controlplane.services import gitops_projects
from controlplane.services.gitops_plan import Desired, Live, is_drifted, plan
from controlplane.services.gitops_projects import DesiredProject


def desired_of(documents: list[Loaded]) -> list[Desired]:
    """The guest documents of a validated set."""
    return [Desired(GuestDocument.model_validate(d.source.data), d.location.file, d.location.line)
            for d in documents if d.kind in KIND_PATHS]


def desired_projects_of(documents: list[Loaded]) -> list[DesiredProject]:
    """The Project documents of a validated set."""
    return [DesiredProject(ProjectFile.model_validate(d.source.data), d.location.file, d.location.line)
            for d in documents if d.kind == gitops_projects.KIND]


def live_of(item: dict[str, Any]) -> Live:
    """A guest as the API returns it, for planning."""
    meta = item["metadata"]
    return Live(kind=item["kind"], project=meta["project"], name=meta["name"], id=UUID(item["id"]),
                spec=item["spec"], labels=meta.get("labels") or {}, managed_by=meta.get("managed_by", "api"),
                drifted=is_drifted(item.get("status", {}).get("conditions", [])),
                source_file=(meta.get("source") or {}).get("file"),
                source_commit=(meta.get("source") or {}).get("commit"))


def compute(client: Client, documents: list[Loaded], source: str, *, prune: bool, adopt: bool) -> list[Change]:
    """The changes applying ``documents`` as ``git:<source>`` would make (the live projects are read only
    when the set has Project documents)."""
    wanted_projects = desired_projects_of(documents)
    live_projects = [ProjectFile.model_validate(p) for p in client.projects()] if wanted_projects else []
    live = [live_of(item) for kind in KIND_PATHS for item in client.guests(kind)]
    return [*gitops_projects.plan(wanted_projects, live_projects),
            *plan(desired_of(documents), live, f"git:{source}", prune=prune, adopt=adopt)]


def pending(changes: list[Change]) -> list[Change]:
    """The changes that are not ``unchanged``."""
    return [c for c in changes if c.action != "unchanged"]
