"""What one run needs besides its object: the engine, Vault, OpenTofu, the data directory, who holds the
lease, placement defaults and how guests are configured with Ansible (None: not at all)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from .configurator import Configurator
from .credentials import SecretReader
from .gateway import Gateway
from .terraform_run import TerraformSetup


@dataclass
class RunContext:
    """Shared by every run of one worker."""

    engine: Engine
    vault: SecretReader
    terraform: TerraformSetup
    data_dir: Path
    holder: str
    placement_policy: str = "spread"
    vmid_start: int = 100
    power_timeout: float = 300.0
    agent_timeout: float = 120.0
    """Seconds an OpenTofu read of a running VM waits for its guest agent to report an address."""
    configure: Configurator | None = None
    gateway: Gateway | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
