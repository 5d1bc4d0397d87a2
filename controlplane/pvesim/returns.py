"""Check a response against the ``returns`` schema of its endpoint in the official PVE API schema.

PVE describes what each endpoint returns with the same JSON-schema dialect as its parameters. This module
walks a response ``data`` value against that description and lists every difference: a missing property
that is not ``optional``, a value of the wrong JSON type (an integer sent as a string, a string sent as a
number), a value outside its ``enum``, and, where the schema says ``additionalProperties: 0``, a property
it does not define. Repeating keys (``net0``) are matched to their ``net[n]`` definitions.
"""

from __future__ import annotations

import re
from typing import Any

_INDEXED = re.compile(r"([a-z]+)(\d+)")


def _type_error(expected: str, value: Any) -> str | None:
    """Why ``value`` is not of the PVE schema type ``expected`` (None when it is)."""
    if expected in ("any", ""):
        return None
    if expected == "null":
        return None if value is None else f"expected null, got {type(value).__name__}"
    if value is None:
        return f"expected {expected}, got null"
    if expected == "boolean":
        ok = isinstance(value, bool) or (isinstance(value, int) and value in (0, 1))
    elif expected == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif expected == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif expected == "string":
        ok = isinstance(value, str)
    elif expected == "object":
        ok = isinstance(value, dict)
    elif expected == "array":
        ok = isinstance(value, list)
    else:
        ok = True
    return None if ok else f"expected {expected}, got {type(value).__name__} {value!r}"


def _property_spec(props: dict[str, Any], name: str) -> dict[str, Any] | None:
    if name in props:
        return props[name]
    m = _INDEXED.fullmatch(name)
    if m and f"{m.group(1)}[n]" in props:
        return props[f"{m.group(1)}[n]"]
    return None


def check_returns(spec: dict[str, Any] | None, value: Any, where: str = "data") -> list[str]:
    """Every difference between ``value`` and the returns schema ``spec`` (empty when it conforms)."""
    if not spec or (value is None and spec.get("optional")):
        return []
    expected = spec.get("type", "any")
    if isinstance(expected, list):
        expected = next((t for t in expected if _type_error(t, value) is None), expected[0])
    problem = _type_error(str(expected), value)
    if problem:
        return [f"{where}: {problem}"]
    problems: list[str] = []
    if expected == "string" and "enum" in spec and value not in spec["enum"]:
        problems.append(f"{where}: {value!r} is not one of {spec['enum']}")
    if expected == "array" and isinstance(spec.get("items"), dict):
        for i, item in enumerate(value):
            problems += check_returns(spec["items"], item, f"{where}[{i}]")
    if expected == "object" and isinstance(value, dict):
        props: dict[str, Any] = spec.get("properties") or {}
        for name, sub in props.items():
            if name.endswith("[n]") or not isinstance(sub, dict):
                continue
            if name not in value and not sub.get("optional"):
                problems.append(f"{where}.{name}: missing (the schema does not mark it optional)")
        for name, item in value.items():
            sub = _property_spec(props, name)
            if sub is None:
                if props and spec.get("additionalProperties") == 0:
                    problems.append(f"{where}.{name}: not defined by the schema")
                continue
            problems += check_returns(sub, item, f"{where}.{name}")
    return problems
