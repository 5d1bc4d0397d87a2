"""What ``POST /api/v1/gitops/apply`` takes and returns: a set of documents from files, and the plan; the
``Project`` document of desired-state files."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from controlplane.models.common import DnsLabel, LongText, ShortText, Strict
from controlplane.models.guest import API_VERSION
from controlplane.models.tenancy import Quota

Action = Literal["create", "update", "adopt", "delete", "unchanged", "conflict"]
MAX_DOCUMENTS = 10_000


class ProjectMetadata(Strict):
    """The name of a project and the tenant it belongs to."""

    name: DnsLabel
    tenant: DnsLabel


class ProjectSpec(Strict):
    """What a project holds: a description, its quota and its members. A field left out is left as it is
    (a new project: no description, no quota, no members)."""

    description: LongText | None = None
    quota: Quota | None = Field(None, description="Limits (admins only); null limits are unlimited.")
    members: list[ShortText] | None = Field(None, max_length=1000,
                                            description="Members by email: exactly these users are members.")


class ProjectFile(Strict):
    """A project as a file holds it."""

    apiVersion: Literal["controlplane/v1"] = API_VERSION
    kind: Literal["Project"]
    metadata: ProjectMetadata
    spec: ProjectSpec = Field(default_factory=ProjectSpec)


class DocumentIn(Strict):
    """One document and where it was read."""

    file: str = Field(max_length=1024)
    line: int = Field(1, ge=1)
    document: dict[str, Any]


class ApplyRequest(Strict):
    """The whole desired set of one source, applied in one transaction (all or nothing)."""

    source: DnsLabel = Field("cli", description="The source's name: its objects are managed_by git:<source>.")
    repository: str | None = Field(None, max_length=1024, description="Where the files live (shown in 409s).")
    commit: str | None = Field(None, max_length=64, pattern=r"^[0-9a-fA-F]{4,64}$")
    documents: list[DocumentIn] = Field(default_factory=list, max_length=MAX_DOCUMENTS)
    prune: bool = Field(False, description="Delete this source's objects that are no longer in the documents.")
    dry_run: bool = Field(False, description="Check everything (quota included), then roll back.")
    adopt: bool = Field(False, description="Take hand-made objects of the same name under this source.")


class FieldChange(BaseModel):
    """One field that differs: its path, the live value and the desired one."""

    path: str
    old: Any = None
    new: Any = None


class Change(BaseModel):
    """What applying does to one object."""

    action: Action
    kind: str
    project: str = Field(description="The guest's project (for a Project: its tenant).")
    name: str
    file: str | None = None
    line: int | None = None
    fields: list[FieldChange] = Field(default_factory=list)
    managed_by: str | None = None
    drifted: bool = Field(False, description="The observed state has drifted from the spec (shown, not changed).")
    message: str = ""


class ApplyResult(BaseModel):
    """The changes, and whether they were committed."""

    applied: bool
    changes: list[Change]
