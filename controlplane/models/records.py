"""API schemas of the reconciler's runs (with their logs), of audit events, of error bodies and of readiness."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class RunPublic(BaseModel):
    """One reconciler run."""

    id: UUID
    tenant_id: UUID | None
    target_kind: str
    target_id: UUID
    target_name: str
    action: str
    generation: int | None
    state: str
    attempt: int
    summary: dict[str, Any]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class RunLogLine(BaseModel):
    """One line of a run's log."""

    seq: int
    stream: str
    line: str
    created_at: datetime


class AuditEventPublic(BaseModel):
    """One audit event."""

    id: int
    tenant_id: UUID | None
    actor: str
    actor_id: UUID | None
    action: str
    target_kind: str
    target_id: str
    target_name: str
    result: str
    ip: str
    user_agent: str
    request_id: str
    details: dict[str, Any]
    created_at: datetime
    hash: str


class ErrorItem(BaseModel):
    """One problem of a request that failed validation."""

    loc: list[str | int] = Field(description="Where the problem is: body, query, path or header, then the keys.")
    field: str = Field(description="The offending field, dotted (spec.cores).")
    msg: str
    type: str


class Error(BaseModel):
    """The body of every error response."""

    detail: str = Field(description="What went wrong, naming the field when one is at fault.")
    field: str | None = Field(None, description="The offending field, dotted (metadata.name, spec.cores).")
    errors: list[ErrorItem] | None = Field(None, description="Every problem found (validation errors only).")


class ComponentReadiness(BaseModel):
    """The state of one component the control plane uses."""

    model_config = ConfigDict(extra="allow")

    status: Literal["ok", "down"]
    version: str | None = None
    error: str | None = Field(None, description="Why the component is down.")
    required: bool = True


class Readiness(BaseModel):
    """``/readyz``: ready when every required component is ok."""

    status: Literal["ready", "not ready"]
    components: dict[str, ComponentReadiness]
