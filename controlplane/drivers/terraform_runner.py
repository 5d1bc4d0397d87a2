"""A small typed runner for OpenTofu/Terraform: init (state in PostgreSQL, one workspace per object), plan to
a file, read the plan as JSON, apply that plan, destroy, outputs.

State lives in PostgreSQL through the built-in ``pg`` backend, as a role that can only touch the state
table (its schema is made by a migration, so OpenTofu runs with ``skip_*_creation``). Its connection string
reaches the process only as ``PG_CONN_STR`` in the environment, never in a file or on the command line.
The environment holds nothing else of ours: a short allow-list of the calling process's variables (PATH,
HOME, locale, proxies), the automation settings and the run's provider endpoint and token. The backend
takes a session-level advisory lock per workspace, so a process that dies mid-apply leaves no lock behind (the
session ends with it) and the next run proceeds. ``init`` runs under a file lock on the shared provider
plugin cache, which makes the cache safe for parallel runs.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controlplane.db.roles import STATE_SCHEMA
from controlplane.errors import InvalidInput
from controlplane.util.metrics import timed_tool

from .terraform_events import Redactor, classify
from .terraform_process import CommandResult, EventHandler, ProcessControl, run_command

WORKSPACE_RX = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,89}")
PLAN_FILE = "plan.tfplan"
# The only variables of the calling process an OpenTofu process inherits (the worker's own environment
# may hold database URLs, Vault tokens and the like).
INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "HTTP_PROXY", "HTTPS_PROXY",
                 "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
SKIP_CREATION = ("skip_schema_creation", "skip_table_creation", "skip_index_creation")


@dataclass(frozen=True)
class PlanSummary:
    """What a saved plan will do, by resource address (outputs are not counted)."""

    create: tuple[str, ...] = ()
    update: tuple[str, ...] = ()
    replace: tuple[str, ...] = ()
    delete: tuple[str, ...] = ()
    no_op: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """True when applying the plan changes any resource."""
        return bool(self.create or self.update or self.replace or self.delete)

    def counts(self) -> dict[str, int]:
        """``{"create": n, "update": n, "replace": n, "delete": n, "no_op": n}`` for the run record."""
        return {name: len(getattr(self, name)) for name in ("create", "update", "replace", "delete", "no_op")}

    @classmethod
    def from_plan_json(cls, plan: dict[str, Any]) -> PlanSummary:
        """Summarise ``tofu show -json <planfile>``."""
        buckets: dict[str, list[str]] = {"create": [], "update": [], "replace": [], "delete": [], "no_op": []}
        for change in plan.get("resource_changes", []):
            actions = change.get("change", {}).get("actions", [])
            if "create" in actions and "delete" in actions:
                bucket = "replace"
            elif actions in (["create"], ["update"], ["delete"]):
                bucket = actions[0]
            else:
                bucket = "no_op"  # no-op, read, forget
            buckets[bucket].append(change["address"])
        return cls(**{k: tuple(v) for k, v in buckets.items()})


@dataclass
class TerraformRunner:
    """Runs ``binary`` (tofu or terraform) with the pg backend at ``pg_conn_str`` (a libpq URL)."""

    binary: str
    pg_conn_str: str
    cli_config: Path | None = None
    plugin_cache_dir: Path | None = None
    schema_name: str = STATE_SCHEMA
    create_schema: bool = False
    """Let the backend create its schema and table (a database without our migrations); never with a
    least-privilege state role."""
    lock_timeout: float = 30.0
    timeout: float = 1800.0
    grace: float = 10.0
    extra_secrets: tuple[str, ...] = field(default_factory=tuple)

    def environment(self, env: dict[str, str] | None = None) -> dict[str, str]:
        """The process environment: the allow-listed part of ours, automation settings, the backend
        connection and the run's ``env`` (provider endpoint and token)."""
        base = {k: v for k, v in os.environ.items() if k in INHERITED_ENV}
        base.update(TF_IN_AUTOMATION="1", TF_INPUT="0", CHECKPOINT_DISABLE="1", PG_CONN_STR=self.pg_conn_str)
        if self.cli_config is not None:
            base["TF_CLI_CONFIG_FILE"] = str(self.cli_config)
        if self.plugin_cache_dir is not None:
            base["TF_PLUGIN_CACHE_DIR"] = str(self.plugin_cache_dir)
            # Run directories are fresh and carry no dependency lock file; without this, every init
            # re-installs the cached provider package, pulling it from under plans that are running.
            base["TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE"] = "true"
        base.update(env or {})
        return base

    def redactor(self, env: dict[str, str] | None) -> Redactor:
        """Redacts the run's secrets: every value of ``env`` that looks like one, and the backend URL's password."""
        secrets = list(self.extra_secrets)
        for key, value in (env or {}).items():
            if any(word in key.upper() for word in ("TOKEN", "PASSWORD", "SECRET", "CONN_STR")):
                secrets.append(value)
                secrets.extend(value.split("=", 1)[1:])  # the secret part of user@realm!id=secret
        match = re.search(r"://[^:/@]+:([^@]+)@", self.pg_conn_str)
        if match:
            secrets.append(match.group(1))
        return Redactor(secrets)

    # -- commands ----------------------------------------------------------------------------------
    def init(self, workdir: Path, workspace: str, *, on_event: EventHandler | None = None,
             control: ProcessControl | None = None) -> None:
        """``init`` (backend, modules, providers from the shared cache) and select or create ``workspace``."""
        if not WORKSPACE_RX.fullmatch(workspace):
            raise InvalidInput(f"workspace name {workspace!r} must match {WORKSPACE_RX.pattern}", field="workspace")
        backend = [f"-backend-config=schema_name={self.schema_name}"]
        if not self.create_schema:
            backend += [f"-backend-config={option}=true" for option in SKIP_CREATION]
        with self._cache_lock():
            self._check("init", workdir, None, on_event, control, "-json", "-input=false", "-no-color", *backend)
        self._check("workspace", workdir, None, on_event, control, "select", "-or-create=true", workspace,
                    json_lines=False)

    def plan(self, workdir: Path, env: dict[str, str], *, destroy: bool = False,
             on_event: EventHandler | None = None, control: ProcessControl | None = None) -> PlanSummary:
        """``plan -out`` to ``plan.tfplan``, then read it with ``show -json``."""
        args = ["-json", "-input=false", "-no-color", f"-lock-timeout={self.lock_timeout:.0f}s", f"-out={PLAN_FILE}"]
        self._check("plan", workdir, env, on_event, control, *args, *(["-destroy"] if destroy else []))
        shown = self._check("show", workdir, env, None, control, "-json", "-no-color", PLAN_FILE, json_lines=False)
        return PlanSummary.from_plan_json(json.loads(shown.stdout))

    def apply(self, workdir: Path, env: dict[str, str], *, plan_file: str = PLAN_FILE,
              on_event: EventHandler | None = None, control: ProcessControl | None = None) -> None:
        """Apply the saved plan exactly as planned."""
        self._check("apply", workdir, env, on_event, control, "-json", "-input=false", "-no-color",
                    f"-lock-timeout={self.lock_timeout:.0f}s", plan_file)

    def destroy(self, workdir: Path, env: dict[str, str], *, on_event: EventHandler | None = None,
                control: ProcessControl | None = None) -> PlanSummary:
        """Plan a destroy to a file and apply it; returns what was destroyed."""
        summary = self.plan(workdir, env, destroy=True, on_event=on_event, control=control)
        if summary.changed:
            self.apply(workdir, env, on_event=on_event, control=control)
        return summary

    def output(self, workdir: Path, env: dict[str, str], *, control: ProcessControl | None = None
               ) -> dict[str, Any]:
        """The root module's outputs as ``{name: value}``."""
        shown = self._check("output", workdir, env, None, control, "-json", "-no-color", json_lines=False)
        return {name: item.get("value") for name, item in json.loads(shown.stdout or "{}").items()}

    def version(self) -> tuple[str, str]:
        """``("OpenTofu" | "Terraform", "1.12.6")`` of the binary."""
        result = self._run("version", Path.cwd(), None, None, None, "-json", json_lines=False)
        data = json.loads(result.stdout)
        first = self._run("version", Path.cwd(), None, None, None, json_lines=False).stdout.splitlines()[:1]
        flavor = "OpenTofu" if first and first[0].startswith("OpenTofu") else "Terraform"
        return flavor, str(data.get("terraform_version", ""))

    # -- plumbing ----------------------------------------------------------------------------------
    def _run(self, command: str, workdir: Path, env: dict[str, str] | None, on_event: EventHandler | None,
             control: ProcessControl | None, *args: str, json_lines: bool = True) -> CommandResult:
        control = control or ProcessControl(timeout=self.timeout, grace=self.grace)
        with timed_tool("opentofu", command) as outcome:
            result = run_command([self.binary, command, *args], workdir, self.environment(env),
                                 self.redactor(env), on_event=on_event, control=control, json_lines=json_lines)
            if result.returncode != 0:
                outcome.failed()
        return result

    def _check(self, command: str, workdir: Path, env: dict[str, str] | None, on_event: EventHandler | None,
               control: ProcessControl | None, *args: str, json_lines: bool = True) -> CommandResult:
        result = self._run(command, workdir, env, on_event, control, *args, json_lines=json_lines)
        if result.returncode != 0:
            errors = result.errors or ([] if json_lines else [result.stdout])
            raise classify(command, errors, result.stderr)
        return result

    @contextmanager
    def _cache_lock(self) -> Iterator[None]:
        if self.plugin_cache_dir is None:
            yield
            return
        self.plugin_cache_dir.mkdir(parents=True, exist_ok=True)
        with open(self.plugin_cache_dir / ".init.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

