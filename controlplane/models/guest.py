"""The one document shape of a managed guest (VirtualMachine or Container), shared by API, portal and GitOps.

``GuestDocument`` is what clients send (``id``, ``status`` and the bookkeeping fields of ``metadata`` are
accepted and ignored, so a document read from the API can be sent back; any other unknown key is a 422);
``GuestPublic`` is what the API returns. Integers are strict (``cores: true`` is refused, not read as 1),
times need a time zone, and ``spec.configure.vars`` is bounded in keys and size.
"""

from __future__ import annotations

import ipaddress
import json
import re
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints, create_model, field_validator, model_validator

from controlplane.models.common import Count, DnsLabel, ShortText, Strict
from controlplane.util.paths_text import without_paths

API_VERSION = "controlplane/v1"
Kind = Literal["VirtualMachine", "Container"]
Power = Literal["running", "stopped"]
DriftPolicy = Literal["correct", "report"]
LabelKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]([-A-Za-z0-9_./]{0,62}[A-Za-z0-9])?$")]
LabelValue = Annotated[str, StringConstraints(max_length=63, pattern=r"^[A-Za-z0-9_.\-]*$")]
MAX_VARS_KEYS = 256
"""Most keys ``spec.configure.vars`` may have (at the top level)."""
MAX_VARS_BYTES = 64 * 1024
"""Largest ``spec.configure.vars`` accepted, as compact JSON."""
SSH_KEY = re.compile(r"^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp(256|384|521)|sk-[a-z0-9@.-]+) [A-Za-z0-9+/=]+( \S.*)?$")


class Disk(Strict):
    """One disk: its size and the Proxmox storage it lives on."""

    size_gb: Count = Field(ge=1, le=65536)
    storage: ShortText = "local-lvm"


class Nic(Strict):
    """One network interface: bridge, optional VLAN tag, and DHCP or a static IPv4 address in CIDR form."""

    bridge: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,32}$")] = "vmbr0"
    vlan: Count | None = Field(None, ge=1, le=4094)
    ipv4: str = Field("dhcp", max_length=64, description="'dhcp' or an address in CIDR form, e.g. 10.0.0.5/24")
    gateway: str | None = Field(None, max_length=64)

    @field_validator("ipv4")
    @classmethod
    def _ipv4(cls, value: str) -> str:
        if value == "dhcp":
            return value
        try:
            iface = ipaddress.IPv4Interface(value)
        except ValueError as exc:
            raise ValueError("must be 'dhcp' or an IPv4 address in CIDR form (10.0.0.5/24)") from exc
        if "/" not in value:
            raise ValueError("a static address needs its prefix length (10.0.0.5/24)")
        return str(iface)

    @field_validator("gateway")
    @classmethod
    def _gateway(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            return str(ipaddress.IPv4Address(value))
        except ValueError as exc:
            raise ValueError("must be an IPv4 address") from exc

    @model_validator(mode="after")
    def _gateway_needs_static(self) -> Nic:
        if self.gateway is not None and self.ipv4 == "dhcp":
            raise ValueError("gateway is only valid with a static ipv4 address")
        return self


class Configure(Strict):
    """What the Ansible driver runs once the guest is up."""

    playbook: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-/]{1,128}\.ya?ml$")]
    vars: dict[Annotated[str, StringConstraints(max_length=128)], Any] = Field(
        default_factory=dict, description=f"Extra variables: at most {MAX_VARS_KEYS} keys and {MAX_VARS_BYTES} bytes "
        "as JSON."
    )

    @field_validator("playbook")
    @classmethod
    def _no_traversal(cls, value: str) -> str:
        if value.startswith("/") or ".." in value.split("/"):
            raise ValueError("must be a relative path inside the playbooks directory")
        return value

    @field_validator("vars")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(value) > MAX_VARS_KEYS:
            raise ValueError(f"at most {MAX_VARS_KEYS} keys (got {len(value)})")
        size = len(json.dumps(value, separators=(",", ":")).encode())
        if size > MAX_VARS_BYTES:
            raise ValueError(f"at most {MAX_VARS_BYTES} bytes as JSON (got {size})")
        return value


class Spec(Strict):
    """The desired state of a guest, written by users."""

    cluster: DnsLabel | None = Field(None, description="Cluster name (or give cluster_id).")
    cluster_id: UUID | None = None
    node: Annotated[str, StringConstraints(pattern=r"^(auto|[A-Za-z0-9][-A-Za-z0-9]{0,62})$")] = "auto"
    cores: Count = Field(1, ge=1, le=512)
    memory_mb: Count = Field(1024, ge=64, le=16 * 1024 * 1024, description="Memory in MiB (Proxmox needs 64+).")
    disks: list[Disk] = Field(default_factory=lambda: [Disk(size_gb=8)], max_length=16)
    image: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/\-]{0,254}$")]
    network: list[Nic] = Field(default_factory=lambda: [Nic()], max_length=8)
    ssh_keys: list[Annotated[str, StringConstraints(max_length=8192)]] = Field(default_factory=list, max_length=32)
    user: Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_-]{0,31}$")] | None = None
    power: Power = "running"
    configure: Configure | None = None
    drift_policy: DriftPolicy = Field(
        "correct", description="What the reconciler does about changes made behind its back: 'correct' them "
        "(recreate, resize, power back) or only 'report' them (condition Drifted)."
    )
    expires_at: AwareDatetime | None = Field(
        None, description="When the guest may be removed; a future time with a time zone (2027-01-31T18:00:00Z)."
    )

    @field_validator("ssh_keys")
    @classmethod
    def _ssh_keys(cls, keys: list[str]) -> list[str]:
        for key in keys:
            if not SSH_KEY.match(key.strip()):
                raise ValueError("each entry must be an SSH public key ('ssh-ed25519 AAAA... comment')")
        return [key.strip() for key in keys]

    @model_validator(mode="after")
    def _cluster_named(self) -> Spec:
        if self.cluster is None and self.cluster_id is None:
            raise ValueError("give the cluster (name) or cluster_id")
        return self

    @property
    def disk_gb(self) -> int:
        """Total disk size asked for."""
        return sum(d.size_gb for d in self.disks)


class Metadata(Strict):
    """Name, project and labels of a guest."""

    name: DnsLabel
    project: DnsLabel | None = Field(None, description="Project name (or give project_id).")
    project_id: UUID | None = None
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict, max_length=64)

    @model_validator(mode="before")
    @classmethod
    def _drop_bookkeeping(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k not in BOOKKEEPING}
        return data


BOOKKEEPING = frozenset(
    {"tenant_id", "generation", "resource_version", "assigned_user_id", "created_at", "updated_at", "deleted_at",
     "managed_by", "source"}
)
"""Metadata fields the API returns and ignores on input (a read document can be written back)."""


READ_ONLY = frozenset({"id", "status"})
"""Top-level fields the API returns and ignores on input; any other unknown top-level key is an error."""


class GuestDocument(Strict):
    """A guest as clients write it; ``status``, ``id`` and bookkeeping fields are ignored on input."""

    apiVersion: Literal["controlplane/v1"] = API_VERSION
    kind: Kind | None = None
    metadata: Metadata
    spec: Spec

    @model_validator(mode="before")
    @classmethod
    def _drop_read_only(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k not in READ_ONLY}
        return data


def partial(model: type[BaseModel], name: str, doc: str) -> type[BaseModel]:
    """A model with ``model``'s fields, each optional with no default (for merging given fields only).

    The fields keep their types and constraints; what holds across fields (``model``'s model validators)
    is checked once the given fields are merged into a whole ``model``.
    """
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        field_type = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        fields[field_name] = (field_type | None, Field(None, description=info.description))
    return create_model(name, __base__=Strict, __doc__=doc, __module__=__name__, **fields)


SpecPatch = partial(Spec, "SpecPatch", "Some fields of a Spec: each one given replaces that field.")


class GuestPatch(Strict):
    """A partial update: labels replace the labels, spec fields replace those fields."""

    labels: dict[LabelKey, LabelValue] | None = Field(None, max_length=64)
    spec: SpecPatch | None = None  # type: ignore[valid-type]

    def spec_fields(self) -> dict[str, Any]:
        """The spec fields the client gave (an explicit ``null`` included), ready to merge."""
        return self.spec.model_dump(exclude_unset=True) if self.spec is not None else {}


class Condition(BaseModel):
    """One observed condition (Ready, Provisioned, Configured)."""

    type: str
    status: str
    reason: str = ""
    message: str = ""
    last_transition: str | None = None

    @field_validator("message")
    @classmethod
    def _no_paths(cls, value: str) -> str:
        return without_paths(value)


class PlacementStatus(BaseModel):
    """Where the reconciler placed the guest, and why."""

    node: str | None = None
    policy: str | None = None
    reason: str | None = None


class DriftStatus(BaseModel):
    """The last drift seen: when, what differed, and what the policy made of it."""

    detected_at: str | None = None
    reasons: list[str] = Field(default_factory=list)
    policy: str | None = None


class ConfigurationStatus(BaseModel):
    """The last configuration run that ended (successfully or with a failed task)."""

    ok: bool | None = None
    digest: str | None = Field(None, description="Digest of spec.configure and the playbook's content.")
    playbook: str | None = None
    address: str | None = None
    user: str | None = None
    key_path: str | None = Field(None, description="Vault path of the SSH key used (never the key).")
    changed: int | None = None
    failed_task: str | None = None
    failed_host: str | None = None
    finished_at: str | None = None


class Status(BaseModel):
    """The observed state, written by the reconciler only (clients cannot set it)."""

    vmid: int | None = None
    node: str | None = None
    ipv4: str | None = None
    mac: str | None = None
    power: str | None = None
    cpu: float | None = Field(None, description="CPU load (0..cores), sampled at observed_at.")
    mem_mb: int | None = Field(None, description="Memory in use, MiB, sampled at observed_at.")
    uptime: int | None = Field(None, description="Seconds since the guest started, sampled at observed_at.")
    observed_at: str | None = Field(None, description="When the guest's observed state last changed (the "
                                    "cluster's status.observed_at is its last observation).")
    placement: PlacementStatus | None = None
    drift: DriftStatus | None = None
    configuration: ConfigurationStatus | None = None
    create_pending: bool | None = Field(None, description="A create is recorded but not yet confirmed.")
    stalled_generation: int | None = Field(
        None, description="The generation a permanent failure stopped at (retried when the spec changes)."
    )
    last_error: str | None = Field(None, description="The last failure, without server file paths.")
    observed_generation: int = 0
    conditions: list[Condition] = Field(default_factory=list)

    @field_validator("last_error")
    @classmethod
    def _no_paths(cls, value: str | None) -> str | None:
        return without_paths(value) if value else value


class SourcePublic(BaseModel):
    """Where a git-managed guest's spec comes from."""

    repository: str | None = None
    file: str | None = None
    commit: str | None = None


class MetadataPublic(BaseModel):
    """Metadata as the API returns it, with bookkeeping."""

    name: str
    project: str
    project_id: UUID
    tenant_id: UUID
    labels: dict[str, str]
    generation: int
    resource_version: int
    assigned_user_id: UUID | None = None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None
    managed_by: str = Field("api", description="Who writes the spec: 'api' (portal, REST, CLI) or 'git:<source>'.")
    source: SourcePublic | None = Field(None, description="The repository, file and commit of a git-managed spec.")


class GuestPublic(BaseModel):
    """A guest as the API returns it."""

    apiVersion: str = API_VERSION
    kind: Kind
    id: UUID
    metadata: MetadataPublic
    spec: Spec
    status: Status


class ActionPublic(BaseModel):
    """A recorded power action."""

    id: UUID
    action: str
    target_id: UUID
    target_kind: str
    state: str
    created_at: datetime


class AssignBody(Strict):
    """Assign a guest to one user of its tenant (or ``null`` to unassign)."""

    user_id: UUID | None = None
