"""``controlplane export``: live guests and projects written as desired-state files, one per object.

Files go to ``DIR/<project>/<kind>/<name>.yaml`` (a project: ``DIR/<name>/Project/<name>.yaml``) in a
stable key order, without status, ids or bookkeeping, so ``export`` then ``diff`` shows no changes. A
comment on top of a guest says who manages it.
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


def project_document(item: dict[str, Any]) -> dict[str, Any]:
    """The desired-state document of a project as ``GET /api/v1/gitops/projects`` returns it (no empty
    description, no unlimited quota limits)."""
    spec = item.get("spec") or {}
    out: dict[str, Any] = {}
    if spec.get("description"):
        out["description"] = spec["description"]
    out["quota"] = _pruned(spec.get("quota") or {})
    out["members"] = sorted(spec.get("members") or [])
    meta = item["metadata"]
    return {"apiVersion": API_VERSION, "kind": "Project", "metadata": {"name": meta["name"],
            "tenant": meta["tenant"]}, "spec": out}


def _write(path: Path, header: str, doc: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False))
    return path


def write(items: Iterable[dict[str, Any]], root: Path) -> list[Path]:
    """Write each guest's file under ``root``; the paths written, in order."""
    written = []
    for item in items:
        doc = document(item)
        meta = item["metadata"]
        header = f"# managed_by: {meta.get('managed_by', 'api')}\n"
        written.append(_write(root / meta["project"] / doc["kind"] / f"{meta['name']}.yaml", header, doc))
    return written


def write_projects(items: Iterable[dict[str, Any]], root: Path) -> list[Path]:
    """Write each project's file under ``root``; the paths written, in order."""
    written = []
    for item in items:
        doc = project_document(item)
        name = doc["metadata"]["name"]
        written.append(_write(root / name / "Project" / f"{name}.yaml", "", doc))
    return written
