"""What the API needs from the running system, handed to ``create_app`` (no import-time singletons)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from controlplane.config import Settings
from controlplane.drivers.vault import VaultStore

ComponentCheck = Callable[[], dict[str, object]]


@dataclass
class AppDeps:
    """The engines, stores and extra readiness checks of one running control plane."""

    settings: Settings
    app_engine: Engine
    vault: VaultStore
    extra_checks: dict[str, ComponentCheck] = field(default_factory=dict)
