"""A git source: a repository the control plane follows, as clients write it and as the API returns it."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints, field_validator

from controlplane.models.common import DnsLabel, ResourceVersion, Strict

SourceState = Literal["Synced", "OutOfSync", "Failed", "Suspended"]
Branch = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_./-]{0,254}$")]
RepoPath = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_./-]{0,255}$")]
Glob = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.*?/\[\]!-]{1,255}$")]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=8192)]
URL_CHARS = re.compile(r"^[A-Za-z0-9._~:/?#@!$&'()*+,;=%-]{1,2048}$")
LOOPBACK_NAMES = {"localhost"}


def check_url(value: str) -> str:
    """An https, ssh or file URL (plain http only to a loopback address, for development)."""
    if not URL_CHARS.match(value):
        raise ValueError("must be a URL without spaces or control characters")
    parts = urlsplit(value)
    if parts.scheme not in ("https", "ssh", "file", "http"):
        raise ValueError("must be an https://, ssh:// or file:// URL")
    if parts.scheme == "http":
        host = parts.hostname or ""
        try:
            loopback = host in LOOPBACK_NAMES or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError("plain http is only allowed to a loopback address; use https")
    if parts.scheme != "file" and not parts.hostname:
        raise ValueError("needs a host")
    if parts.password:
        raise ValueError("give credentials in 'token', never in the URL")
    return value


def _relative(value: str) -> str:
    if value.startswith("/") or ".." in value.split("/"):
        raise ValueError("must be a relative path inside the repository")
    return value


class GitSourceCreate(Strict):
    """A new git source (admins give the tenant; managers create in their own)."""

    name: DnsLabel = Field(description="Unique; objects it applies are managed_by git:<name>.")
    tenant: DnsLabel | None = None
    tenant_id: UUID | None = None
    url: str = Field(description="https://, ssh:// or file:// URL of the repository.")
    branch: Branch = "main"
    path: RepoPath = Field("", description="Directory inside the repository holding the files.")
    include: list[Glob] = Field(default_factory=list, max_length=32)
    exclude: list[Glob] = Field(default_factory=list, max_length=32)
    poll_interval_s: int = Field(180, ge=10, le=86400, description="Seconds between polls (default 3 minutes).")
    prune: bool = False
    suspended: bool = False
    username: Annotated[str, StringConstraints(max_length=255)] = Field("git", description="HTTPS user name.")
    token: Secret | None = Field(None, description="HTTPS token (stored in Vault, never returned).")
    webhook_secret: Secret | None = Field(None, description="HMAC secret of the push webhook (stored in Vault).")

    _url = field_validator("url")(classmethod(lambda cls, v: check_url(v)))
    _path = field_validator("path")(classmethod(lambda cls, v: _relative(v)))


class GitSourceUpdate(Strict):
    """Fields to change; each one given replaces that field."""

    branch: Branch | None = None
    path: RepoPath | None = None
    include: list[Glob] | None = Field(None, max_length=32)
    exclude: list[Glob] | None = Field(None, max_length=32)
    poll_interval_s: int | None = Field(None, ge=10, le=86400)
    prune: bool | None = None
    suspended: bool | None = None

    _path = field_validator("path")(classmethod(lambda cls, v: v if v is None else _relative(v)))


class GitSourcePublic(BaseModel):
    """A git source as the API returns it (never its secrets)."""

    id: UUID
    tenant_id: UUID
    name: str
    url: str
    branch: str
    path: str
    include: list[str]
    exclude: list[str]
    poll_interval_s: int
    prune: bool
    suspended: bool
    state: SourceState
    last_seen_commit: str | None = None
    last_applied_commit: str | None = None
    last_error: str | None = None
    last_polled_at: datetime | None = None
    has_token: bool
    has_webhook_secret: bool
    webhook_path: str = Field(description="POST push events here (X-Hub-Signature-256 or X-Gitlab-Token).")
    created_at: datetime
    updated_at: datetime
    resource_version: ResourceVersion
