"""What ``POST /api/v1/gitops/apply`` takes and returns: a set of documents from files, and the plan."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from controlplane.models.common import DnsLabel, Strict

Action = Literal["create", "update", "adopt", "delete", "unchanged", "conflict"]
MAX_DOCUMENTS = 10_000


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
    project: str
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
