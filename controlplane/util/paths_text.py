"""Keep the server's file system out of text shown to clients: absolute paths in an error message (a
socket, a run directory, a CA file) become ``<path>``."""

from __future__ import annotations

import re

ABSOLUTE_PATH = re.compile(r"(?<![\w/.:~-])(?!/api2?/|/_sim/)(?:/[\w.@%+~-]+){2,}/?")
"""An absolute POSIX path of two or more parts, not inside a URL or a relative path, and not an HTTP API
path of ours or of Proxmox (``/api/v1/...``, ``/api2/json/...``)."""


def without_paths(text: str) -> str:
    """``text`` with every absolute file system path replaced by ``<path>``."""
    return ABSOLUTE_PATH.sub("<path>", text)
