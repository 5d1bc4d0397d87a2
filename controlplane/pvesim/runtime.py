"""The bundle of collaborators one running simulator shares between routes: state, tasks, auth, faults,
request counters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .auth import Authenticator
from .config import SimConfig
from .faults import Faults
from .schema import ApiSchema
from .state import ClusterState
from .stats import RequestStats
from .tasks import TaskManager


@dataclass
class Runtime:
    """Everything a request handler may need; built by :func:`build_runtime`."""

    config: SimConfig
    schema: ApiSchema
    state: ClusterState
    tasks: TaskManager
    auth: Authenticator
    faults: Faults
    cache: dict[Any, Any] = field(default_factory=dict)
    stats: RequestStats = field(default_factory=RequestStats)

    @property
    def seed(self) -> int:
        """The simulator's seed."""
        return self.config.seed

    def now(self) -> float:
        """Current time from the configured clock."""
        return self.config.clock()


def build_runtime(config: SimConfig, schema: ApiSchema, state: ClusterState) -> Runtime:
    """Wire state, tasks, auth and faults together for ``config``."""
    faults = Faults(config.seed)
    for spec in config.faults:
        rule = faults.add(spec)
        if rule.kind == "offline":
            state.set_node_online(rule.node, False)
    tasks = TaskManager(state, config.task_seconds, faults.task_error, config.clock)
    auth = Authenticator(config, config.clock)
    return Runtime(config, schema, state, tasks, auth, faults)
