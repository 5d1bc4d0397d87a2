"""What a person reads: relative dates with the exact time, sizes in GiB, condition reasons in plain words."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

_UNITS = ((86400 * 365, "year"), (86400 * 30, "month"), (86400 * 7, "week"), (86400, "day"), (3600, "hour"),
          (60, "minute"), (1, "second"))
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def as_datetime(value: Any) -> datetime | None:
    """A datetime from a datetime or an ISO-8601 string (None when empty or unreadable)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            return as_datetime(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def relative(value: Any, now: datetime | None = None) -> str:
    """``3 minutes ago`` / ``in 2 hours`` / ``just now``; empty for no date."""
    when = as_datetime(value)
    if when is None:
        return ""
    seconds = int(((now or datetime.now(UTC)) - when).total_seconds())
    if abs(seconds) < 10:
        return "just now"
    for size, unit in _UNITS:
        if abs(seconds) >= size:
            count = abs(seconds) // size
            text = f"{count} {unit}{'' if count == 1 else 's'}"
            return f"{text} ago" if seconds > 0 else f"in {text}"
    return "just now"


def exact(value: Any) -> str:
    """The exact time, in UTC, for a tooltip or a ``<time datetime>`` attribute."""
    when = as_datetime(value)
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if when else ""


def iso(value: Any) -> str:
    """The ISO-8601 form of a date (for ``<time datetime="...">``)."""
    when = as_datetime(value)
    return when.astimezone(UTC).isoformat() if when else ""


def gib_from_mb(value: Any) -> str:
    """Memory in MiB as GiB: ``512 MiB`` stays in MiB, ``2048`` becomes ``2 GiB``."""
    if value is None or value == "":
        return "—"
    mb = int(value)
    if mb < 1024:
        return f"{mb} MiB"
    gib = mb / 1024
    return f"{gib:.0f} GiB" if gib.is_integer() else f"{gib:.1f} GiB"


def gib(value: Any) -> str:
    """A size already in GiB (disks, quotas)."""
    return "—" if value is None or value == "" else f"{int(value)} GiB"


def words(reason: Any) -> str:
    """A condition reason in plain words: ``GuestMissing`` → ``Guest missing``."""
    text = _CAMEL.sub(" ", str(reason or "")).replace("_", " ").strip()
    return text[:1].upper() + text[1:].lower() if text else ""


def percent(used: Any, limit: Any) -> int:
    """How full a quota is, 0..100 (0 without a limit)."""
    if not limit:
        return 0
    return max(0, min(100, round(100 * int(used or 0) / int(limit))))


FILTERS = {"relative": relative, "exact": exact, "iso": iso, "gib_from_mb": gib_from_mb, "gib": gib,
           "words": words}
