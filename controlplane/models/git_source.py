"""A git source: a repository the control plane follows, as clients write it and as the API returns it."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit
from uuid import UUID

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from pydantic import BaseModel, Field, StringConstraints, field_validator

from controlplane.models.common import DnsLabel, ResourceVersion, Strict

SourceState = Literal["Synced", "OutOfSync", "Failed", "Suspended"]
Branch = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_./-]{0,254}$")]
RepoPath = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_./-]{0,255}$")]
Glob = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.*?/\[\]!-]{1,255}$")]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=8192)]
KnownHosts = Annotated[str, StringConstraints(min_length=1, max_length=65536)]
URL_CHARS = re.compile(r"^[A-Za-z0-9._~:/?#@!$&'()*+,;=%-]{1,2048}$")
LOOPBACK_NAMES = {"localhost"}
HOST_KEY_TYPES = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa",
                  "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com")
KNOWN_HOST_LINE = re.compile(r"^(?P<hosts>[A-Za-z0-9.:\[\]*?,|/+=_-]{1,1024}) (?P<type>[a-z0-9@.-]{1,64}) "
                             r"(?P<key>[A-Za-z0-9+/]{16,16384}={0,2})(?: [A-Za-z0-9 @._+-]{0,255})?$")


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
    if (parts.hostname or "").startswith("-") or (parts.username or "").startswith("-"):
        raise ValueError("a host or user name must not start with '-'")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise ValueError("the port must be a number") from exc
    return value


def check_known_hosts(value: str) -> str:
    """``known_hosts`` lines (``host keytype base64-key [comment]``, as ``ssh-keyscan`` prints them): the
    host keys an ssh server must present. Markers (``@cert-authority``, ``@revoked``) and options are refused."""
    lines = [line.strip() for line in value.replace("\r\n", "\n").split("\n")]
    keys = [line for line in lines if line and not line.startswith("#")]
    if not keys:
        raise ValueError("give at least one host key line (host keytype key), as ssh-keyscan prints it")
    for number, line in enumerate(keys, 1):
        match = KNOWN_HOST_LINE.match(line)
        if match is None or match["type"] not in HOST_KEY_TYPES:
            raise ValueError(f"line {number} is not 'host keytype key' with a key type of {', '.join(HOST_KEY_TYPES)}")
        try:
            base64.b64decode(match["key"], validate=True)
        except binascii.Error as exc:
            raise ValueError(f"line {number}: the key is not base64") from exc
    return "\n".join(keys) + "\n"


def check_private_key(value: str) -> str:
    """An SSH private key without a passphrase (OpenSSH or PEM format); returned with a final newline."""
    data = value.strip().encode() + b"\n"
    try:
        if data.startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----"):
            serialization.load_ssh_private_key(data, password=None)
        else:
            serialization.load_pem_private_key(data, password=None)
    except TypeError as exc:
        raise ValueError("the key must not be protected by a passphrase (the sync cannot type one)") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ValueError("not an SSH private key in OpenSSH or PEM format") from exc
    return data.decode()


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
    ssh_private_key: Secret | None = Field(None, description="SSH deploy key of an ssh:// source, without a "
                                           "passphrase (stored in Vault, never returned).")
    known_hosts: KnownHosts | None = Field(None, description="Host keys of an ssh:// source's server, as "
                                           "ssh-keyscan prints them; required for ssh://.")
    webhook_secret: Secret | None = Field(None, description="HMAC secret of the push webhook (stored in Vault).")

    _url = field_validator("url")(classmethod(lambda cls, v: check_url(v)))
    _path = field_validator("path")(classmethod(lambda cls, v: _relative(v)))
    _known_hosts = field_validator("known_hosts")(classmethod(lambda cls, v: v if v is None else check_known_hosts(v)))
    _key = field_validator("ssh_private_key")(classmethod(lambda cls, v: v if v is None else check_private_key(v)))


class GitSourceUpdate(Strict):
    """Fields to change; each one given replaces that field."""

    branch: Branch | None = None
    path: RepoPath | None = None
    include: list[Glob] | None = Field(None, max_length=32)
    exclude: list[Glob] | None = Field(None, max_length=32)
    poll_interval_s: int | None = Field(None, ge=10, le=86400)
    prune: bool | None = None
    suspended: bool | None = None
    known_hosts: KnownHosts | None = Field(None, description="New host keys of an ssh:// source's server.")

    _path = field_validator("path")(classmethod(lambda cls, v: v if v is None else _relative(v)))
    _known_hosts = field_validator("known_hosts")(classmethod(lambda cls, v: v if v is None else check_known_hosts(v)))


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
    has_token: bool = Field(description="An HTTPS token is stored (https:// sources).")
    has_ssh_key: bool = Field(False, description="An SSH deploy key is stored (ssh:// sources).")
    known_hosts: str | None = Field(None, description="The host keys an ssh:// source's server must present.")
    has_webhook_secret: bool
    webhook_path: str = Field(description="POST push events here (X-Hub-Signature-256 or X-Gitlab-Token).")
    created_at: datetime
    updated_at: datetime
    resource_version: ResourceVersion
