"""What one run needs besides its object: the engine, Vault, OpenTofu, the data directory, who holds the
lease, placement defaults and the optional configuration hook (Ansible)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from .credentials import SecretReader
from .gateway import Gateway
from .runlog import RunRecorder
from .store import ManagedObject
from .terraform_run import TerraformSetup

ConfigureHook = Callable[[ManagedObject, RunRecorder], None]
"""Configures a provisioned, running guest (``spec.configure``); raises TemporaryError/PermanentError."""


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
    configure: ConfigureHook | None = None
    gateway: Gateway | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
