"""controlplane: a self-hosted desired-state control plane for Proxmox VE."""

from __future__ import annotations

__version__ = "0.1.0"
