"""Rules about how a guest's spec may change, beyond what the document's own validation can know: these
compare the new spec with the stored row and the clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from controlplane.errors import InvalidInput
from controlplane.models.guest import Spec


def check_expiry(spec: Spec, current: datetime | None = None) -> None:
    """A newly set ``expires_at`` must lie in the future (an unchanged one may have passed meanwhile)."""
    if spec.expires_at is None or spec.expires_at == current:
        return
    if spec.expires_at <= datetime.now(UTC):
        raise InvalidInput("spec.expires_at: must be in the future", field="spec.expires_at")


def check_node_change(spec: Spec, row: Any) -> None:
    """A placed guest stays on its node: naming another one would need a migration, which is not done."""
    status = row.status or {}
    placed = status.get("node") if status.get("vmid") is not None else None
    if placed is None or spec.node in ("auto", placed) or spec.node == (row.spec or {}).get("node"):
        return
    raise InvalidInput(
        f"spec.node: the guest runs on node {placed!r}; moving it to {spec.node!r} needs a migration, which the "
        "control plane does not do (keep the node, or delete the guest and create it on the other node)",
        field="spec.node",
    )
