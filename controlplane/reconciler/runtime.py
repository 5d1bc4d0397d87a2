"""Building a worker from the control plane's settings: OpenTofu found as configured, state in PostgreSQL
(the owner role's URL, since the pg backend creates its own schema; handed to OpenTofu only as
``PG_CONN_STR``), run directories under ``<data dir>/runs``, the provider plugin cache under
``<data dir>/terraform-plugins``.

Guests are configured with Ansible from ``playbooks/`` (run directories under ``<data dir>/ansible``) unless
``ansible=False``; ``configure=Configurator(...)`` sets other playbooks or limits.

``start_worker(settings, app_engine, vault, owner_url=..., concurrency=4)`` is what ``controlplane up``
calls; the handle it returns has ``.stop()``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from controlplane.config import Settings
from controlplane.drivers.terraform import TerraformRunner, find_terraform_binary, toolchain_cli_config

from .configurator import Configurator
from .context import RunContext
from .credentials import SecretReader
from .terraform_run import TerraformSetup
from .worker import Worker, WorkerConfig, make_holder


def backend_url(owner_url: str) -> str:
    """The libpq URL OpenTofu's pg backend uses: the owner's, with ``sslmode=disable`` unless it says."""
    if "sslmode=" in owner_url:
        return owner_url
    return owner_url + ("&" if "?" in owner_url else "?") + "sslmode=disable"


def terraform_setup(data_dir: Path, owner_url: str, *, binary: str | None = None,
                    cli_config: Path | None = None, plugin_cache: Path | None = None) -> TerraformSetup:
    """OpenTofu as this worker runs it."""
    runner = TerraformRunner(
        binary=find_terraform_binary(binary), pg_conn_str=backend_url(owner_url),
        cli_config=cli_config or toolchain_cli_config(),
        plugin_cache_dir=plugin_cache or data_dir / "terraform-plugins",
    )
    return TerraformSetup(runner=runner, run_root=data_dir / "runs")


def start_worker(settings: Settings, app_engine: Engine, vault: SecretReader, *, owner_url: str,
                 concurrency: int = 4, configure: Configurator | None = None, ansible: bool = True,
                 terraform: TerraformSetup | None = None, agent_timeout: float = 120.0, **config: Any) -> Worker:
    """Start a worker in this process; ``config`` sets :class:`WorkerConfig` fields (poll_interval, ...);
    ``agent_timeout`` is how long OpenTofu waits for a running VM's guest agent to report an address."""
    data_dir = settings.data_dir.resolve()
    if configure is None and ansible:
        configure = Configurator(work_dir=data_dir / "ansible")
    setup = terraform or terraform_setup(data_dir, owner_url, binary=settings.tf_binary)
    ctx = RunContext(engine=app_engine, vault=vault, terraform=setup, data_dir=data_dir, holder=make_holder(),
                     configure=configure, agent_timeout=agent_timeout)
    return Worker(ctx, WorkerConfig(concurrency=concurrency, **config)).start()
