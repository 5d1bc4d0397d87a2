"""A guest row as the pages show it: its URL, power (observed, and where it is heading), the condition
badges, and the facts a person looks for first (IP, node, project, size)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from controlplane.errors import NotFound
from controlplane.services.gitops_ownership import source_of
from controlplane.services.guests import CONTAINER, VM, Kind

SLUGS = {VM.name: "vm", CONTAINER.name: "container"}
BY_SLUG = {"vm": VM, "container": CONTAINER}
LABELS = {VM.name: "VM", CONTAINER.name: "Container"}


@dataclass
class Badge:
    """One status badge: its text, its tone (ok, warn, bad, idle) and the explanation on hover."""

    text: str
    tone: str
    title: str = ""


@dataclass
class GuestView:
    """What a card, a row or the detail page shows of one guest."""

    id: UUID
    kind: str
    slug: str
    name: str
    project: str
    url: str
    power: str
    power_tone: str
    badges: list[Badge] = field(default_factory=list)
    ipv4: str = ""
    node: str = ""
    vmid: Any = None
    cores: Any = None
    memory_mb: Any = None
    disk_gb: int = 0
    assigned: str = ""
    deleting: bool = False
    updated_at: Any = None
    desired_power: str = ""
    managed_by: str = ""
    source: Any = None
    """Where a git-managed guest's spec comes from (repository, file, commit); ``None`` for a hand-made one."""

    @property
    def git_source(self) -> str:
        """The git source's name of a git-managed guest, ``""`` otherwise."""
        return self.managed_by.removeprefix("git:") if self.managed_by.startswith("git:") else ""


def kind_of(slug: str) -> Kind:
    """The guest kind of a URL segment (``vm`` or ``container``); 404 otherwise."""
    if slug not in BY_SLUG:
        raise NotFound("no such page")
    return BY_SLUG[slug]


def parse_id(text: str, what: str = "guest") -> UUID:
    """A path id; a malformed one is simply not found."""
    try:
        return UUID(text)
    except ValueError as exc:
        raise NotFound(f"no such {what}") from exc


def conditions(row: Any) -> dict[str, dict[str, Any]]:
    """The guest's conditions by type."""
    return {c.get("type", ""): c for c in (row.conditions or [])}


def _badges(row: Any, by_type: dict[str, dict[str, Any]]) -> list[Badge]:
    if row.deleted_at is not None:
        return [Badge("Deleting…", "warn", "the reconciler is destroying this guest")]
    badges = []
    for name in ("Ready", "Provisioned", "Configured"):
        cond = by_type.get(name)
        if cond is None:
            continue
        ok = cond.get("status") == "True"
        text = name if ok else {"Ready": "Not ready", "Provisioned": "Not provisioned",
                                "Configured": "Not configured"}[name]
        badges.append(Badge(text, "ok" if ok else "bad", cond.get("message") or cond.get("reason") or ""))
    drift = by_type.get("Drifted")
    if drift is not None and drift.get("status") == "True":
        badges.append(Badge("Drifted", "warn", drift.get("message") or drift.get("reason") or ""))
    if not badges:
        badges.append(Badge("Pending", "idle", "waiting for the reconciler"))
    return badges


def _power(row: Any) -> tuple[str, str]:
    observed = (row.status or {}).get("power") or ""
    desired = (row.spec or {}).get("power") or ""
    if row.deleted_at is not None:
        return "deleting", "warn"
    if observed and desired and observed != desired:
        return ("starting…" if desired == "running" else "stopping…"), "warn"
    if not observed:
        return "not created yet", "idle"
    return observed, "ok" if observed == "running" else "idle"


def view(row: Any, kind_name: str | None = None) -> GuestView:
    """The view of one guest row (from ``guests.get`` or the combined list)."""
    kind = kind_name or row.kind
    slug = SLUGS[kind]
    spec, status = row.spec or {}, row.status or {}
    power, tone = _power(row)
    return GuestView(
        id=row.id, kind=LABELS[kind], slug=slug, name=row.name, project=row.project_name,
        url=f"/guests/{slug}/{row.id}", power=power, power_tone=tone, badges=_badges(row, conditions(row)),
        ipv4=status.get("ipv4") or "", node=status.get("node") or "", vmid=status.get("vmid"),
        cores=spec.get("cores"), memory_mb=spec.get("memory_mb"),
        disk_gb=sum(int(d.get("size_gb", 0)) for d in spec.get("disks", [])),
        assigned=getattr(row, "assigned_email", None) or "", deleting=row.deleted_at is not None,
        updated_at=row.updated_at, desired_power=spec.get("power", ""),
        managed_by=getattr(row, "managed_by", None) or "", source=source_of(row),
    )
