"""OpenTofu's machine-readable output: redacting secrets from it, decoding its JSON lines into events, and
turning its error diagnostics into our TemporaryError / PermanentError.

``tofu <command> -json`` prints one JSON object per line (``@level``, ``@message``, ``type`` such as
``planned_change``, ``apply_progress``, ``diagnostic``). Every line is redacted before anybody sees it.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from controlplane.errors import ComponentError, PermanentError, TemporaryError

COMPONENT = "terraform"
REDACTED = "[redacted]"

# What Proxmox or the provider say about a spec that can never work, whatever the HTTP status: checked first.
SPEC_ERROR = re.compile(
    r"(volume|storage|pool|template|bridge) '[^']*' does not (exist|support)|expected \S+ to be in the range"
    r"|no such (storage|volume|template|bridge)|unable to parse (drive|volume)",
    re.IGNORECASE,
)
# Diagnostics that a later run can get past by itself; checked before PERMANENT.
TEMPORARY = re.compile(
    r"state lock|lock-timeout|connection refused|connection reset|i/o timeout|timed? ?out|deadline exceeded"
    r"|no route to host|temporarily|too many|\b5\d\d\b|got no worker upid|EOF|server closed|"
    r"could not connect|the database system is",
    re.IGNORECASE,
)
PERMANENT = re.compile(
    r"invalid value for variable|unsupported argument|missing required argument|invalid reference|"
    r"unsupported block|argument or block definition required|incorrect attribute value type|"
    r"invalid expression|validation|authenticat|permission|\b401\b|\b403\b|"
    r"already exists|not supported|invalid configuration|module not installed|failed to query available",
    re.IGNORECASE,
)


def encodings(secret: str) -> set[str]:
    """The forms a secret can take in output: itself, URL-encoded, hex (either case), and base64 (standard
    and URL-safe) at each of the three alignments it can have inside a longer encoded text."""
    raw = secret.encode()
    forms = {secret, quote(secret, safe=""), raw.hex(), raw.hex().upper()}
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * offset + raw).decode().rstrip("=")
            # drop the characters that also depend on the bytes around the secret
            start = (offset * 4 + 2) // 3
            end = len(text) - (1 if (offset + len(raw)) % 3 else 0)
            if end - start >= 4:
                forms.add(text[start:end])
    return forms


class Redactor:
    """Replaces every occurrence of the given secrets (and their URL-encoded, hex and base64 forms) in text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        found = {form for s in secrets if s and len(s) >= 4 for form in encodings(s)}
        self._pattern = re.compile("|".join(re.escape(s) for s in sorted(found, key=len, reverse=True))) \
            if found else None

    def __call__(self, text: str) -> str:
        """``text`` with every secret replaced by ``[redacted]``."""
        return self._pattern.sub(REDACTED, text) if self._pattern else text


def decode_line(line: str) -> dict[str, Any]:
    """One line of ``-json`` output as an event; plain text (a crash, a non-JSON message) becomes a log event."""
    text = line.rstrip("\n")
    try:
        event = json.loads(text)
    except ValueError:
        return {"type": "log", "@level": "info", "@message": text}
    return event if isinstance(event, dict) else {"type": "log", "@level": "info", "@message": text}


def diagnostic_text(event: dict[str, Any]) -> str:
    """``summary: detail`` of a diagnostic event, or its message."""
    diag = event.get("diagnostic") or {}
    parts = [diag.get("summary", ""), diag.get("detail", "")]
    text = ": ".join(p for p in parts if p)
    return text or str(event.get("@message", ""))


def classify(command: str, errors: list[str], stderr: str) -> ComponentError:
    """The exception for a failed ``tofu command`` from its error diagnostics and stderr (already redacted)."""
    text = "\n".join([*errors, stderr.strip()]).strip() or f"tofu {command} failed without a message"
    message = f"{command} failed: {text[:2000]}"
    if SPEC_ERROR.search(text):
        return PermanentError(message, component=COMPONENT)
    if TEMPORARY.search(text) and not _config_error(text):
        return TemporaryError(message, component=COMPONENT, delay=_lock_delay(text))
    if PERMANENT.search(text):
        return PermanentError(message, component=COMPONENT)
    return TemporaryError(message, component=COMPONENT)


def _config_error(text: str) -> bool:
    return bool(re.search(r"invalid value for variable|unsupported argument|missing required argument", text,
                          re.IGNORECASE))


def _lock_delay(text: str) -> float | None:
    return 5.0 if "state lock" in text.lower() else None


def lock_id(text: str) -> str | None:
    """The lock ID in an ``Error acquiring the state lock`` message, for ``force-unlock``."""
    match = re.search(r"ID:\s+(\S+)", text)
    return match.group(1) if match else None
