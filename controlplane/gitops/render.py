"""Rendering a plan as text (terminals), markdown (pull-request comments, split under 65,000 characters)
or JSON (machines)."""

from __future__ import annotations

import json
from typing import Any

from controlplane.models.gitops import Change

MARKDOWN_LIMIT = 65_000
SIGNS = {"create": "+", "update": "~", "adopt": "~", "delete": "-", "unchanged": "=", "conflict": "!"}


def _value(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _title(change: Change) -> str:
    where = f"  ({change.file}:{change.line})" if change.file and change.line else ""
    note = f" - {change.message}" if change.message else ""
    drift = " [drifted]" if change.drifted else ""
    return f"{SIGNS[change.action]} {change.action} {change.kind} {change.project}/{change.name}{drift}{where}{note}"


def _summary(changes: list[Change]) -> str:
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.action] = counts.get(change.action, 0) + 1
    return ", ".join(f"{n} {a}" for a, n in sorted(counts.items())) or "no objects"


def text(changes: list[Change], *, verbose: bool = False) -> str:
    """One line per object (unchanged ones with ``verbose`` or when drifted), field changes indented."""
    lines = []
    for change in changes:
        if change.action == "unchanged" and not (verbose or change.drifted or change.message):
            continue
        lines.append(_title(change))
        lines += [f"    {f.path}: {_value(f.old)} -> {_value(f.new)}" for f in change.fields]
    lines.append(f"Plan: {_summary(changes)}.")
    return "\n".join(lines) + "\n"


def markdown(changes: list[Change], limit: int = MARKDOWN_LIMIT) -> list[str]:
    """The plan as markdown parts, each under ``limit`` characters (one pull-request comment each)."""
    header = f"### controlplane plan\n\n{_summary(changes)}\n\n"
    blocks = []
    for change in changes:
        if change.action == "unchanged" and not (change.drifted or change.message):
            continue
        block = f"- **{change.action}** `{change.kind} {change.project}/{change.name}`"
        block += f" ({change.file}:{change.line})" if change.file and change.line else ""
        block += f" {change.message}" if change.message else ""
        block += " - observed state drifted" if change.drifted else ""
        if change.fields:
            rows = "\n".join(f"  | `{f.path}` | `{_value(f.old)}` | `{_value(f.new)}` |" for f in change.fields)
            block += f"\n\n  | field | live | desired |\n  |---|---|---|\n{rows}\n"
        blocks.append(block[: limit - 200] + "\n")
    parts, current = [], header
    for block in blocks:
        if len(current) + len(block) > limit - 100:
            parts.append(current)
            current = ""
        current += block
    parts.append(current)
    if len(parts) > 1:
        parts = [f"{p}\n_part {i} of {len(parts)}_\n" for i, p in enumerate(parts, 1)]
    return parts


def progress(index: int, total: int, change: Change) -> str:
    """One line of an apply's progress: ``[ 3/12] + create VirtualMachine shop/web-1  (file:line)``."""
    width = len(str(total))
    return f"[{index:>{width}}/{total}] {_title(change)}"


def as_json(changes: list[Change]) -> str:
    """The plan as a JSON document: ``{"changes": [...]}``."""
    return json.dumps({"changes": [c.model_dump(mode="json") for c in changes]}, indent=2) + "\n"
