"""API schemas of the reconciler's runs (with their logs) and of audit events."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel


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
