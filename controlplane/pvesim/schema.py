"""Parameter validation driven by the official PVE API schema (``apischema.json``).

The full schema is not copied into this package: it is read from ``$PVESIM_API_SCHEMA``, an explicit
path, or ``<repo>/../shared/pve-api/apischema.json`` (found by walking up from this package), loaded once
and cached; where none exists, the bundled constraints of the served endpoints are used.
:class:`Endpoint.validate` checks and coerces request parameters the way PVE's JSONSchema code does
(numeric strings, ``1``/``0`` booleans, enums, bounds, patterns, ``name[n]`` keys, property strings)
and raises :class:`~controlplane.pvesim.errors.ParamError` naming every bad parameter.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import formats, propstring
from .errors import ParamError

ENV_VAR = "PVESIM_API_SCHEMA"
# The served endpoints' constraints, derived from the official schema (see schema_subset.py); used when
# the full schema is not on this machine.
BUNDLED_SUBSET = Path(__file__).parent / "data" / "apischema-subset.json"

# Highest index of each repeating ``name[n]`` property (PVE's limits).
INDEX_MAX = {
    "net": 31,
    "ipconfig": 31,
    "hostpci": 15,
    "numa": 7,
    "usb": 13,
    "unused": 255,
    "virtiofs": 9,
    "dev": 255,
    "mp": 255,
    "link": 7,
    "acmedomain": 4,
    "ide": 3,
    "parallel": 2,
    "sata": 5,
    "scsi": 30,
    "serial": 3,
    "virtio": 15,
}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class SchemaNotFound(RuntimeError):
    """The API schema file could not be located."""


def find_schema_file(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Locate apischema.json: explicit path, ``$PVESIM_API_SCHEMA``, or ``shared/pve-api`` above the repo."""
    candidates: list[Path] = []
    if explicit:
        candidates.append(Path(explicit))
    if os.environ.get(ENV_VAR):
        candidates.append(Path(os.environ[ENV_VAR]))
    for parent in Path(__file__).resolve().parents:
        candidates.append(parent / "shared" / "pve-api" / "apischema.json")
    for cand in candidates:
        if cand.is_file():
            return cand
    if BUNDLED_SUBSET.is_file():
        return BUNDLED_SUBSET
    raise SchemaNotFound(
        f"PVE API schema not found; set {ENV_VAR} to the path of apischema.json "
        f"(looked in: {', '.join(str(c) for c in candidates[:4])}, ...)"
    )


def _compile(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern.replace("(?^:", "(?:"))
    except re.error:
        return None


@dataclass
class Endpoint:
    """One method on one schema path with its parameter definitions."""

    method: str
    path: str
    info: dict[str, Any]
    props: dict[str, dict[str, Any]] = field(default_factory=dict)
    indexed: dict[str, dict[str, Any]] = field(default_factory=dict)
    additional: bool = False

    @classmethod
    def build(cls, method: str, path: str, info: dict[str, Any]) -> Endpoint:
        """Split the schema's properties into plain and ``name[n]`` ones."""
        params = info.get("parameters") or {}
        ep = cls(method, path, info, additional=bool(params.get("additionalProperties")))
        for name, spec in (params.get("properties") or {}).items():
            if name.endswith("[n]"):
                ep.indexed[name[:-3]] = spec
            else:
                ep.props[name] = spec
        return ep

    @property
    def required(self) -> list[str]:
        """Names of parameters without ``optional``."""
        return [n for n, s in self.props.items() if not s.get("optional")]

    @property
    def permission(self) -> tuple[str, str] | None:
        """(ACL path template, privilege) from the schema's ``perm`` check, if any."""
        check = (self.info.get("permissions") or {}).get("check")
        if isinstance(check, list) and len(check) >= 3 and check[0] == "perm":
            privs = check[2]
            return str(check[1]), str(privs[0] if isinstance(privs, list) and privs else privs)
        return None

    def spec_for(self, name: str) -> dict[str, Any] | None:
        """The schema of parameter ``name`` (resolving ``net0`` to ``net[n]``)."""
        if name in self.props:
            return self.props[name]
        m = re.fullmatch(r"([a-z]+)(\d+)", name)
        if m and m.group(1) in self.indexed and int(m.group(2)) <= INDEX_MAX.get(m.group(1), 255):
            return self.indexed[m.group(1)]
        return None

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        """Check ``params`` against the schema and return them coerced to Python types."""
        errors: dict[str, str] = {}
        out: dict[str, Any] = {}
        for name, raw in params.items():
            spec = self.spec_for(name)
            if spec is None:
                if self.additional:
                    out[name] = raw
                    continue
                errors[name] = "property is not defined in schema and the schema does not allow additional properties"
                continue
            try:
                out[name] = check_value(spec, raw, name)
            except ValueError as exc:
                errors[name] = str(exc)
        for name in self.required:
            if name not in params:
                errors[name] = "property is missing and it is not optional"
        for name, spec in self.props.items():
            need = spec.get("requires")
            if name in params and isinstance(need, str) and need not in params:
                errors[need] = f"missing property - '{name}' requires this property"
        if errors:
            raise ParamError(errors)
        return out


def check_value(spec: dict[str, Any], raw: Any, name: str = "") -> Any:
    """Validate one value against its schema; return it coerced (ValueError with PVE's message)."""
    typ = spec.get("type", "string")
    if isinstance(raw, list) and typ != "array":
        # repeated keys: PVE joins them with NUL, which its ``*-list`` formats split like commas
        raw = ",".join(map(str, raw)) if str(spec.get("format", "")).endswith("-list") else (raw[-1] if raw else "")
    if typ == "boolean":
        text = str(raw).strip().lower() if not isinstance(raw, bool) else ("1" if raw else "0")
        if text in _TRUE:
            return 1
        if text in _FALSE:
            return 0
        raise ValueError(f"type check ('boolean') failed - got '{raw}'")
    if typ in ("integer", "number"):
        value: int | float
        try:
            if isinstance(raw, bool):
                raise ValueError
            value = int(str(raw).strip()) if typ == "integer" else float(str(raw).strip())
            if typ == "number" and value == int(value):
                value = int(value)
        except ValueError:
            raise ValueError(f"type check ('{typ}') failed - got '{raw}'") from None
        if "minimum" in spec and value < spec["minimum"]:
            raise ValueError(f"value must have a minimum value of {spec['minimum']}")
        if "maximum" in spec and value > spec["maximum"]:
            raise ValueError(f"value must have a maximum value of {spec['maximum']}")
        return value
    if typ == "array":
        return raw if isinstance(raw, list) else [raw]
    if isinstance(raw, dict | list):
        raise ValueError(f"type check ('string') failed - got {type(raw).__name__}")
    text = str(raw)
    if "enum" in spec and text not in spec["enum"]:
        raise ValueError(f"value '{text}' does not have a value in the enumeration '{', '.join(spec['enum'])}'")
    if "maxLength" in spec and len(text) > spec["maxLength"]:
        raise ValueError(f"value may only be {spec['maxLength']} characters long")
    if "minLength" in spec and len(text) < spec["minLength"]:
        raise ValueError(f"value must be at least {spec['minLength']} characters long")
    pattern = spec.get("pattern")
    if isinstance(pattern, str):
        rx = _compile(pattern)
        if rx is not None and not rx.fullmatch(text):
            raise ValueError("value does not match the regex pattern")
    fmt = spec.get("format")
    if isinstance(fmt, dict):
        check_property_string(fmt, text, name)
    elif isinstance(fmt, str):
        formats.check(fmt, text)
    return text


def check_property_string(fmt: dict[str, Any], text: str, name: str) -> dict[str, str]:
    """Validate a ``k=v,...`` value against a format dict; return the alias-resolved items."""
    try:
        items = propstring.resolve_aliases(propstring.parse(text, propstring.default_key_of(fmt)), fmt)
    except ValueError as exc:
        raise ValueError(f"invalid format - {exc}") from None
    problems: list[str] = []
    for key, val in items.items():
        sub = fmt.get(key)
        if not isinstance(sub, dict) or "type" not in sub:
            problems.append(
                f"{name}.{key}: property is not defined in schema and the schema does not allow additional properties"
            )
            continue
        try:
            check_value(sub, val, f"{name}.{key}")
        except ValueError as exc:
            problems.append(f"{name}.{key}: {exc}")
    for key, sub in fmt.items():
        if isinstance(sub, dict) and "type" in sub and not sub.get("optional") and key not in items:
            problems.append(f"{name}.{key}: property is missing and it is not optional")
    if problems:
        raise ValueError("invalid format - format error\n" + "\n".join(problems))
    return items


class ApiSchema:
    """The whole schema indexed by (METHOD, path template)."""

    def __init__(self, source: Path) -> None:
        self.source = source
        with source.open("rb") as fh:
            tree = json.load(fh)
        self.endpoints: dict[tuple[str, str], Endpoint] = {}
        stack = list(tree)
        while stack:
            node = stack.pop()
            for method, info in (node.get("info") or {}).items():
                self.endpoints[(method, node["path"])] = Endpoint.build(method, node["path"], info)
            stack.extend(node.get("children") or [])

    def endpoint(self, method: str, path: str) -> Endpoint | None:
        """The endpoint for ``method`` on schema path template ``path``, if the schema has it."""
        return self.endpoints.get((method, path))

    def __iter__(self) -> Iterator[Endpoint]:
        return iter(self.endpoints.values())


_CACHE: dict[Path, ApiSchema] = {}
_LOCK = threading.Lock()


def load_schema(path: str | os.PathLike[str] | None = None) -> ApiSchema:
    """Load (once per file, thread-safe) and return the API schema."""
    source = find_schema_file(path).resolve()
    with _LOCK:
        if source not in _CACHE:
            _CACHE[source] = ApiSchema(source)
        return _CACHE[source]
