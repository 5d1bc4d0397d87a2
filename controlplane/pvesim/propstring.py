"""Parse and render PVE property strings (``virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1``).

A property string is a comma-separated list of ``key=value`` items; one item may omit its key when the
format declares a ``default_key``. Aliased keys (``virtio=<mac>`` meaning ``model=virtio,macaddr=<mac>``)
are resolved by :func:`resolve_aliases` using the format dict from the API schema.
"""

from __future__ import annotations

from typing import Any


def parse(value: str, default_key: str | None = None) -> dict[str, str]:
    """Split ``value`` into an ordered dict; a bare item goes to ``default_key`` (ValueError if none)."""
    out: dict[str, str] = {}
    if value == "":
        return out
    for item in value.split(","):
        if item == "":
            continue
        if "=" in item:
            key, _, val = item.partition("=")
        elif default_key is not None and default_key not in out:
            key, val = default_key, item
        else:
            raise ValueError(f"value without key, but schema does not define a default key: '{item}'")
        if key in out:
            raise ValueError(f"duplicate key in comma-separated list property: {key}")
        out[key] = val
    return out


def render(items: dict[str, Any], first: str | None = None) -> str:
    """Join ``items`` back into a property string; ``first`` is emitted as a bare leading value."""
    parts: list[str] = []
    if first is not None and first in items:
        parts.append(str(items[first]))
    parts.extend(f"{k}={v}" for k, v in items.items() if k != first)
    return ",".join(parts)


def default_key_of(fmt: dict[str, Any]) -> str | None:
    """The key a bare item maps to in a schema format dict."""
    for key, spec in fmt.items():
        if isinstance(spec, dict) and spec.get("default_key"):
            return key
    return None


def resolve_aliases(items: dict[str, str], fmt: dict[str, Any]) -> dict[str, str]:
    """Rewrite aliased keys: ``{"virtio": mac}`` becomes ``{"model": "virtio", "macaddr": mac}``."""
    out: dict[str, str] = {}
    for key, val in items.items():
        spec = fmt.get(key)
        if isinstance(spec, dict) and "alias" in spec:
            if "keyAlias" in spec:
                out[spec["keyAlias"]] = key
            out[spec["alias"]] = val
        else:
            out[key] = val
    return out


def parse_size(text: str) -> int:
    """Bytes for a PVE disk size (``8G``, ``512M``, ``1T``, bare number = bytes for ``size=``)."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    text = text.strip()
    if text and text[-1].upper() in units:
        return int(float(text[:-1]) * units[text[-1].upper()])
    return int(float(text))


def format_size(size: int) -> str:
    """PVE's rendering of a size in bytes: the largest unit that divides it (``8G``, ``4608M``)."""
    for suffix, unit in (("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if size >= unit and size % unit == 0:
            return f"{size // unit}{suffix}"
    return str(size)
