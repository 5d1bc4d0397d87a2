"""``controlplane export``: live guests written as desired-state files, one per object.

Files go to ``DIR/<project>/<kind>/<name>.yaml`` in a stable key order, without status, ids or
bookkeeping, so ``export`` then ``diff`` shows no changes. A comment on top says who manages the object.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from controlplane.models.guest import API_VERSION


def _pruned(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _pruned(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def document(item: dict[str, Any]) -> dict[str, Any]:
    """The desired-state document of a guest as the API returns it."""
    meta = item["metadata"]
    spec = {k: v for k, v in item["spec"].items() if k != "cluster_id"}
    metadata: dict[str, Any] = {"name": meta["name"], "project": meta["project"]}
    if meta.get("labels"):
        metadata["labels"] = dict(sorted(meta["labels"].items()))
    return {"apiVersion": API_VERSION, "kind": item["kind"], "metadata": metadata, "spec": _pruned(spec)}


def write(items: Iterable[dict[str, Any]], root: Path) -> list[Path]:
    """Write each guest's file under ``root``; the paths written, in order."""
    written = []
    for item in items:
        doc = document(item)
        meta = item["metadata"]
        path = root / meta["project"] / doc["kind"] / f"{meta['name']}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        header = f"# managed_by: {meta.get('managed_by', 'api')}\n"
        path.write_text(header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False))
        written.append(path)
    return written
