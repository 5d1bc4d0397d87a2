"""The Terraform driver: converge or destroy one managed guest with OpenTofu (or Terraform) and the
bpg/proxmox provider, state in PostgreSQL, the Proxmox endpoint and token as environment variables only.

One run = a fresh private directory with ``main.tf.json`` and the guest's values in a variables file (see
:mod:`.terraform_render`), ``plan`` to a file in the object's workspace (its changes read from the same
process's JSON stream), ``apply`` of exactly that plan when it changes anything (its outputs read from the
stream too); the directory is deleted afterwards (``keep_run_dirs`` keeps it, for debugging). What
``init`` makes is shared between runs (see :meth:`TerraformRunner.shared_init`): it lives under
``init_root`` and holds no values and no secrets. Without an ``init_root`` each run inits its own
directory. A destroy plans from the workspace's state alone. OpenTofu's JSON output is streamed,
redacted, to ``on_event``.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controlplane.errors import ConfigError, InvalidInput
from controlplane.util.binaries import TOOLS_DIR

from .terraform_process import EventHandler, ProcessControl, TerraformCancelled, TerraformTimeout, started_processes
from .terraform_render import (
    MODULES_DIR,
    PROVIDER_VERSION,
    GuestModule,
    root_module,
    run_directory,
    state_only_module,
    variables_file,
)
from .terraform_runner import PlanSummary, TerraformRunner

__all__ = [
    "GuestModule", "PlanSummary", "ProcessControl", "ProxmoxCredentials", "RunResult", "TerraformCancelled",
    "TerraformDriver", "TerraformRunner", "TerraformTimeout", "find_terraform_binary", "started_processes",
    "toolchain_cli_config",
]

BINARY_ENV = "CONTROLPLANE_TF_BINARY"


def find_terraform_binary(configured: str | None = None) -> str:
    """The binary to run: ``configured`` (``Settings.tf_binary``, from CONTROLPLANE_TF_BINARY: a path or a
    name on PATH), else ``tofu`` then ``terraform`` on PATH, else ``.tools/bin/tofu``. ConfigError names
    the variable."""
    wanted = configured
    if wanted:
        found = wanted if os.sep in wanted else shutil.which(wanted)
        if not found or not os.path.isfile(found) or not os.access(found, os.X_OK):
            raise ConfigError(f"{BINARY_ENV}={wanted!r} is not an executable file", field=BINARY_ENV)
        return found
    for name in ("tofu", "terraform"):
        found = shutil.which(name)
        if found:
            return found
    built = TOOLS_DIR / "bin" / "tofu"
    if built.is_file():
        return str(built)
    raise ConfigError(f"no tofu or terraform on PATH: install one, run `make tools`, or set {BINARY_ENV}",
                      field=BINARY_ENV)


def toolchain_cli_config() -> Path | None:
    """The provider mirror's CLI configuration built by ``make tools``, when present."""
    path = TOOLS_DIR / "tofurc"
    return path if path.is_file() else None


@dataclass(frozen=True)
class ProxmoxCredentials:
    """How the provider reaches one Proxmox cluster. ``api_token`` is ``user@realm!id=secret``."""

    endpoint: str
    api_token: str = field(repr=False)
    ca_file: str | None = None
    insecure: bool = False

    def __post_init__(self) -> None:
        if not self.endpoint.startswith("https://"):
            raise InvalidInput("the Proxmox endpoint must be an https:// URL", field="endpoint")
        if "!" not in self.api_token or "=" not in self.api_token:
            raise InvalidInput("the API token must look like user@realm!id=secret", field="api_token")

    def env(self) -> dict[str, str]:
        """The provider's environment variables for one run."""
        env = {"PROXMOX_VE_ENDPOINT": self.endpoint, "PROXMOX_VE_API_TOKEN": self.api_token}
        if self.insecure:
            env["PROXMOX_VE_INSECURE"] = "true"
        if self.ca_file:
            env["SSL_CERT_FILE"] = self.ca_file
        return env


@contextmanager
def timed(timings: dict[str, float], phase: str) -> Iterator[None]:
    """Add the seconds the block takes (failed or not) to ``timings[phase]``."""
    start = time.monotonic()
    try:
        yield
    finally:
        timings[phase] = round(timings.get(phase, 0.0) + time.monotonic() - start, 3)


@dataclass(frozen=True)
class RunResult:
    """What one converge or destroy did: the plan it applied (empty when nothing changed) and the outputs."""

    plan: PlanSummary
    outputs: dict[str, Any]
    applied: bool


@dataclass
class TerraformDriver:
    """Converges managed guests: one workspace per object, one fresh run directory per run, and (with an
    ``init_root``) one shared ``init`` per module set instead of one per run."""

    runner: TerraformRunner
    modules_dir: Path = MODULES_DIR
    provider_version: str = PROVIDER_VERSION
    run_root: Path | None = None
    keep_run_dirs: bool = False
    init_root: Path | None = None

    def plan(self, guest: GuestModule, workspace: str, credentials: ProxmoxCredentials, *,
             on_event: EventHandler | None = None, control: ProcessControl | None = None) -> PlanSummary:
        """What converging ``guest`` would change now (drift detection); changes nothing."""
        document = self._document(guest, adopt=False)
        with run_directory(document, variables_file(guest), parent=self.run_root, keep=self.keep_run_dirs) as workdir:
            env = self._prepare(document, workdir, workspace, credentials, on_event, control)
            return self.runner.plan(workdir, env, on_event=on_event, control=control)

    def converge(self, guest: GuestModule, workspace: str, credentials: ProxmoxCredentials, *,
                 adopt: bool = False, on_event: EventHandler | None = None, control: ProcessControl | None = None,
                 on_plan: Callable[[PlanSummary], None] | None = None,
                 timings: dict[str, float] | None = None) -> RunResult:
        """Make the guest match its variables. ``adopt`` first imports a guest that exists in Proxmox but
        not in the workspace's state (e.g. one created before the control plane managed it). ``on_plan``
        sees the plan before it is applied; ``timings`` collects each phase's seconds. The outputs are
        those of the apply, or the stored state's when nothing was applied."""
        timings = {} if timings is None else timings
        document = self._document(guest, adopt=adopt)
        with run_directory(document, variables_file(guest), parent=self.run_root, keep=self.keep_run_dirs) as workdir:
            with timed(timings, "init"):
                env = self._prepare(document, workdir, workspace, credentials, on_event, control)
            with timed(timings, "plan"):
                summary = self.runner.plan(workdir, env, on_event=on_event, control=control)
            if on_plan is not None:
                on_plan(summary)
            applied = summary.changed or adopt
            if applied:
                with timed(timings, "apply"):
                    outputs = self.runner.apply(workdir, env, on_event=on_event, control=control)
            else:
                with timed(timings, "output"):
                    outputs = self.runner.stored_outputs(workspace)
        return RunResult(plan=summary, outputs=outputs, applied=applied)

    def destroy(self, workspace: str, credentials: ProxmoxCredentials, *,
                on_event: EventHandler | None = None, control: ProcessControl | None = None,
                on_plan: Callable[[PlanSummary], None] | None = None,
                timings: dict[str, float] | None = None) -> RunResult:
        """Destroy the guest recorded in ``workspace`` from its state alone (no spec is needed, so a spec
        that cannot plan does not block it); a workspace with nothing in it is a no-op.
        ``on_plan`` and ``timings`` as for :meth:`converge`."""
        timings = {} if timings is None else timings
        document = state_only_module(provider_version=self.provider_version)
        with run_directory(document, parent=self.run_root, keep=self.keep_run_dirs) as workdir:
            with timed(timings, "init"):
                env = self._prepare(document, workdir, workspace, credentials, on_event, control)
            with timed(timings, "plan"):
                summary = self.runner.plan(workdir, env, destroy=True, on_event=on_event, control=control)
            if on_plan is not None:
                on_plan(summary)
            if summary.changed:
                with timed(timings, "apply"):
                    self.runner.apply(workdir, env, on_event=on_event, control=control)
        return RunResult(plan=summary, outputs={}, applied=summary.changed)

    def _document(self, guest: GuestModule, *, adopt: bool) -> dict[str, Any]:
        return root_module(guest, modules_dir=self.modules_dir, provider_version=self.provider_version, adopt=adopt)

    def _prepare(self, document: dict[str, Any], workdir: Path, workspace: str, credentials: ProxmoxCredentials,
                 on_event: EventHandler | None, control: ProcessControl | None) -> dict[str, str]:
        """Make ``workdir`` ready to plan in ``workspace``; returns the commands' environment."""
        env = credentials.env()
        if self.init_root is None:
            self.runner.init(workdir, workspace, on_event=on_event, control=control)
            return env
        data_dir = self.runner.shared_init(document, self.init_root, on_event=on_event, control=control)
        self.runner.copy_lock_file(data_dir, workdir)
        self.runner.ensure_workspace(workspace)
        return {**env, **self.runner.workspace_env(workspace, data_dir)}
