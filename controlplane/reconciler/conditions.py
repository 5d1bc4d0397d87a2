"""Conditions (Ready, Provisioned, Drifted, Configured): what an object shows about why it is or is not Ready.

A condition keeps its ``last_transition`` time until its status changes; reason and message always reflect
the latest observation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

READY = "Ready"
PROVISIONED = "Provisioned"
DRIFTED = "Drifted"
CONFIGURED = "Configured"


def now_iso() -> str:
    """The current time in ISO 8601 (UTC), as conditions and status record it."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def set_condition(conditions: list[dict[str, Any]], type_: str, status: bool | str, reason: str,
                  message: str = "") -> list[dict[str, Any]]:
    """A copy of ``conditions`` with ``type_`` set; ``last_transition`` moves only when the status changes."""
    value = status if isinstance(status, str) else ("True" if status else "False")
    out = [dict(c) for c in conditions]
    for cond in out:
        if cond.get("type") == type_:
            if cond.get("status") != value:
                cond["last_transition"] = now_iso()
            cond.update(status=value, reason=reason, message=message[:2000])
            return out
    out.append({"type": type_, "status": value, "reason": reason, "message": message[:2000],
                "last_transition": now_iso()})
    return out


def get_condition(conditions: list[dict[str, Any]], type_: str) -> dict[str, Any] | None:
    """The condition of ``type_``, if any."""
    return next((c for c in conditions if c.get("type") == type_), None)
