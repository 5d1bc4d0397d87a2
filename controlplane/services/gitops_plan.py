"""The plan of a desired set against the live objects: create, update (field by field), adopt, delete,
unchanged or conflict. A pure function, shared by the server's apply and the client's diff.

An object someone else manages is a conflict when the files would change it; when it is identical it is
left alone (unchanged), and ``adopt`` takes a hand-made one under the source either way."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from controlplane.models.gitops import Change, FieldChange
from controlplane.models.guest import GuestDocument

PRUNE_LABEL = "controlplane/prune"
Key = tuple[str, str, str]


@dataclass(frozen=True)
class Desired:
    """A document of the set, parsed, and where it was read."""

    doc: GuestDocument
    file: str
    line: int

    @property
    def key(self) -> Key:
        """(kind, project, name)."""
        return (str(self.doc.kind), str(self.doc.metadata.project), self.doc.metadata.name)


@dataclass(frozen=True)
class Live:
    """A live object as far as planning needs it."""

    kind: str
    project: str
    name: str
    id: UUID
    spec: dict[str, Any]
    labels: dict[str, str]
    managed_by: str
    drifted: bool = False
    source_file: str | None = None
    source_commit: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> Key:
        """(kind, project, name)."""
        return (self.kind, self.project, self.name)


def desired_spec(doc: GuestDocument) -> dict[str, Any]:
    """The spec as the server stores it (defaults filled in, ``cluster_id`` left out)."""
    return doc.spec.model_dump(mode="json", exclude={"cluster_id"})


def is_drifted(conditions: Iterable[dict[str, Any]]) -> bool:
    """Whether the conditions say the observed state has drifted."""
    return any((c.get("type") == "Drifted" and c.get("status") == "True") or c.get("reason") == "Drifted"
               for c in conditions)


def field_diff(old: Any, new: Any, path: str = "") -> list[FieldChange]:
    """The leaves that differ between two JSON values, with dotted paths (``spec.disks.0.size_gb``)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[FieldChange] = []
        for key in sorted(set(old) | set(new), key=str):
            out += field_diff(old.get(key), new.get(key), f"{path}.{key}" if path else str(key))
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            out += field_diff(a, b, f"{path}.{index}")
        return out
    return [] if old == new else [FieldChange(path=path, old=old, new=new)]


def _fields(desired: Desired, live: Live) -> list[FieldChange]:
    return field_diff({"labels": live.labels, "spec": {k: v for k, v in live.spec.items() if k != "cluster_id"}},
                      {"labels": desired.doc.metadata.labels, "spec": desired_spec(desired.doc)})


def plan(desired: list[Desired], live: list[Live], manager: str, *, prune: bool, adopt: bool) -> list[Change]:
    """The change for every desired document, then (with ``prune``) deletes of the manager's other objects."""
    by_key = {obj.key: obj for obj in live}
    changes: list[Change] = []
    for want in desired:
        kind, project, name = want.key
        common = {"kind": kind, "project": project, "name": name, "file": want.file, "line": want.line}
        have = by_key.get(want.key)
        if have is None:
            changes.append(Change(action="create", **common))
            continue
        fields = _fields(want, have)
        extra = {"managed_by": have.managed_by, "drifted": have.drifted, "fields": fields}
        if have.managed_by == manager:
            changes.append(Change(action="update" if fields else "unchanged", **common, **extra))
        elif adopt and have.managed_by == "api":
            changes.append(Change(action="adopt", **common, **extra, message="taken over from the API"))
        elif not fields:
            changes.append(Change(action="unchanged", **common, **extra,
                                  message=f"identical, managed by {have.managed_by} (--adopt takes it over)"))
        else:
            why = ("made by hand; use --adopt to manage it from these files" if have.managed_by == "api"
                   else f"managed by {have.managed_by} ({have.source_file or 'another source'})")
            changes.append(Change(action="conflict", **common, **extra, message=f"exists, {why}"))
    if prune:
        wanted = {want.key for want in desired}
        for have in live:
            if have.managed_by != manager or have.key in wanted:
                continue
            common = {"kind": have.kind, "project": have.project, "name": have.name, "file": have.source_file,
                      "managed_by": have.managed_by, "drifted": have.drifted}
            if have.labels.get(PRUNE_LABEL) == "disabled":
                changes.append(Change(action="unchanged", **common, message=f"kept: labelled {PRUNE_LABEL}: disabled"))
            else:
                changes.append(Change(action="delete", **common))
    return changes
