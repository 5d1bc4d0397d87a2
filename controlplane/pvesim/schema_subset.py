"""The bundled parameter definitions of the endpoints the simulator serves.

The official PVE API schema (``apischema.json``) lives outside this package. So that the simulator also
runs where that file is absent (``controlplane up`` on a fresh machine), the package carries
``data/apischema-subset.json``: for each served (method, path) only the machine-readable parameter
constraints, return shapes and permission checks, without any description text. Regenerate it after adding a route::

    python -m controlplane.pvesim.schema_subset /path/to/apischema.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .routes import all_routes
from .schema import BUNDLED_SUBSET as SUBSET_FILE

TEXT_KEYS = {"description", "verbose_description", "format_description", "typetext", "title", "print-width"}


def _strip(value: Any) -> Any:
    """Drop prose keys from a schema fragment; in a ``properties`` map the keys are names and stay."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in TEXT_KEYS:
                continue
            out[key] = _strip_properties(item) if key == "properties" and isinstance(item, dict) else _strip(item)
        return out
    if isinstance(value, list):
        return [_strip(item) for item in value]
    return value


def _strip_properties(props: dict[str, Any]) -> dict[str, Any]:
    return {name: _strip(spec) for name, spec in props.items()}


def _endpoint_info(info: dict[str, Any]) -> dict[str, Any]:
    params = info.get("parameters") or {}
    kept: dict[str, Any] = {
        "parameters": {
            key: (_strip_properties(value) if key == "properties" else value)
            for key, value in params.items()
            if key not in TEXT_KEYS
        }
    }
    if info.get("returns"):
        kept["returns"] = _strip(info["returns"])
    if info.get("permissions"):
        kept["permissions"] = {k: v for k, v in info["permissions"].items() if k not in TEXT_KEYS}
    return kept


def build_subset(full_schema: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A flat tree of the served endpoints with their constraints only."""
    served: dict[str, set[str]] = {}
    for r in all_routes():
        served.setdefault(r.template, set()).add(r.method)
    nodes: list[dict[str, Any]] = []

    def walk(items: list[dict[str, Any]]) -> None:
        for node in items:
            methods = served.get(node.get("path", ""), set())
            info = {m: _endpoint_info(i) for m, i in (node.get("info") or {}).items() if m in methods}
            if info:
                nodes.append({"path": node["path"], "info": info, "leaf": 1})
            walk(node.get("children") or [])

    walk(full_schema)
    return sorted(nodes, key=lambda n: n["path"])


def render(full_schema_path: str | Path) -> str:
    """The subset file's text for the schema at ``full_schema_path``."""
    full = json.loads(Path(full_schema_path).read_text())
    return json.dumps(build_subset(full), sort_keys=True, separators=(",", ":")) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Write the bundled subset from the full schema named on the command line."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m controlplane.pvesim.schema_subset /path/to/apischema.json")
    SUBSET_FILE.parent.mkdir(parents=True, exist_ok=True)
    SUBSET_FILE.write_text(render(args[0]))
    print(f"wrote {SUBSET_FILE} ({SUBSET_FILE.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
