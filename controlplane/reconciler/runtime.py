"""Building a worker from the control plane's settings: OpenTofu found as configured, state in PostgreSQL
as the Terraform state role (``CONTROLPLANE_TF_STATE_DATABASE_URL``, else the owner URL's server with that
role; handed to OpenTofu only as ``PG_CONN_STR``), run directories in a private directory outside the
data directory (``CONTROLPLANE_RUN_DIR``; kept ``CONTROLPLANE_RUN_DIR_RETENTION`` seconds), the provider
plugin cache under ``<data dir>/terraform-plugins``.

Guests are configured with Ansible from ``playbooks/`` (run directories under ``<data dir>/ansible``) unless
``ansible=False``; ``configure=Configurator(...)`` sets other playbooks or limits.

``start_worker(settings, app_engine, vault, owner_url=..., concurrency=4)`` is what ``controlplane up``
calls; the handle it returns has ``.stop()``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from controlplane.config import Settings
from controlplane.db.roles import state_role_url
from controlplane.drivers.terraform import TerraformRunner, find_terraform_binary, toolchain_cli_config

from .configurator import Configurator
from .context import RunContext
from .credentials import SecretReader
from .terraform_run import TerraformSetup
from .worker import Worker, WorkerConfig, make_holder


def backend_url(url: str) -> str:
    """The libpq URL OpenTofu's pg backend uses: ``url`` with ``sslmode=disable`` unless it says."""
    if "sslmode=" in url:
        return url
    return url + ("&" if "?" in url else "?") + "sslmode=disable"


def state_backend_url(owner_url: str, state_url: str | None = None) -> str:
    """The pg backend's URL: ``state_url`` when configured, else the owner's server as the state role."""
    return backend_url(state_url or state_role_url(owner_url))


def private_run_root(configured: Path | None = None) -> Path:
    """Where run directories go: ``configured``, else a fresh 0700 directory in the system's temporary
    directory, so no relative path from a run reaches the data directory's files."""
    if configured is not None:
        configured.mkdir(parents=True, exist_ok=True, mode=0o700)
        return configured.resolve()
    return Path(tempfile.mkdtemp(prefix="controlplane-runs-"))


def terraform_setup(data_dir: Path, owner_url: str, *, binary: str | None = None, state_url: str | None = None,
                    cli_config: Path | None = None, plugin_cache: Path | None = None,
                    run_root: Path | None = None, retention: float = 0.0) -> TerraformSetup:
    """OpenTofu as this worker runs it."""
    runner = TerraformRunner(
        binary=find_terraform_binary(binary), pg_conn_str=state_backend_url(owner_url, state_url),
        cli_config=cli_config or toolchain_cli_config(),
        plugin_cache_dir=plugin_cache or data_dir / "terraform-plugins",
    )
    return TerraformSetup(runner=runner, run_root=private_run_root(run_root), retention=retention)


def start_worker(settings: Settings, app_engine: Engine, vault: SecretReader, *, owner_url: str,
                 concurrency: int = 4, configure: Configurator | None = None, ansible: bool = True,
                 terraform: TerraformSetup | None = None, agent_timeout: float = 120.0, **config: Any) -> Worker:
    """Start a worker in this process; ``config`` sets :class:`WorkerConfig` fields (poll_interval, ...);
    ``agent_timeout`` is how long OpenTofu waits for a running VM's guest agent to report an address."""
    data_dir = settings.data_dir.resolve()
    if configure is None and ansible:
        configure = Configurator(work_dir=data_dir / "ansible")
    state_url = settings.tf_state_database_url
    setup = terraform or terraform_setup(
        data_dir, owner_url, binary=settings.tf_binary, run_root=settings.run_dir,
        state_url=state_url.get_secret_value() if state_url else None, retention=settings.run_dir_retention)
    ctx = RunContext(engine=app_engine, vault=vault, terraform=setup, data_dir=data_dir, holder=make_holder(),
                     configure=configure, agent_timeout=agent_timeout)
    return Worker(ctx, WorkerConfig(concurrency=concurrency, **config)).start()
