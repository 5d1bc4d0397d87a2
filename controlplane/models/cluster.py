"""API schemas of Proxmox VE clusters and their nodes; the token secret is write-only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints, field_validator

from controlplane.models.common import DnsLabel, ResourceVersion, Strict


class ClusterCreate(Strict):
    """Register a cluster: where it is and the API token to use (the secret goes to Vault)."""

    name: DnsLabel
    endpoint: Annotated[str, StringConstraints(max_length=512, pattern=r"^https?://[^\s/]+(:\d+)?/?$")] = Field(
        description="Base URL of the Proxmox VE API, e.g. https://pve1.example:8006"
    )
    token_id: Annotated[str, StringConstraints(max_length=255, pattern=r"^[^\s@!]+@[^\s@!]+![^\s@!]+$")] = Field(
        description="user@realm!tokenname"
    )
    token_secret: Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^\S+$")] = Field(
        description="Write-only: stored in Vault, never returned.", json_schema_extra={"writeOnly": True}
    )
    verify_tls: bool = True
    ca_cert_pem: Annotated[str, StringConstraints(max_length=65536)] | None = None

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        parts = urlsplit(value)
        try:
            port = parts.port
        except ValueError as exc:
            raise ValueError("the port must be between 1 and 65535") from exc
        if not parts.hostname or port == 0:
            raise ValueError("must be http(s)://host[:port]")
        return value.rstrip("/")

    @field_validator("ca_cert_pem")
    @classmethod
    def _pem(cls, value: str | None) -> str | None:
        if value is not None and "-----BEGIN CERTIFICATE-----" not in value:
            raise ValueError("must be a PEM certificate")
        return value


class NodePublic(BaseModel):
    """A node of a cluster with its capacity."""

    name: str
    status: str
    cpus: int
    memory_total_mb: int
    memory_used_mb: int
    storages: list[dict[str, Any]]


class ClusterPublic(BaseModel):
    """A cluster as the API returns it (never the token secret)."""

    id: UUID
    name: str
    endpoint: str
    token_id: str
    verify_tls: bool
    status: dict[str, Any]
    nodes: list[NodePublic]
    created_at: datetime
    updated_at: datetime
    resource_version: ResourceVersion
