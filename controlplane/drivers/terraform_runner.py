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

Runs of one worker share what ``init`` makes (:meth:`TerraformRunner.shared_init`): one initialised data
directory (``TF_DATA_DIR``: the backend's settings, the module copies, the provider links and the
dependency lock file) per distinct provider requirement, backend, module set and module content, made
once and then only read. A run then starts ``plan`` and, when the plan changes anything, ``apply`` in
its own fresh directory with ``TF_WORKSPACE`` naming its object's workspace: the plan's changes are read
from the stream of the ``plan`` process and the outputs from that of ``apply`` (or, when nothing was
applied, from the state the backend stores), so no ``init``, ``workspace``, ``show`` or ``output``
process is started per object.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from controlplane.db.roles import STATE_SCHEMA
from controlplane.errors import InvalidInput, TemporaryError
from controlplane.util.metrics import timed_tool

from .terraform_events import Redactor, classify
from .terraform_process import CommandResult, EventHandler, ProcessControl, run_command

WORKSPACE_RX = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,89}")
PLAN_FILE = "plan.tfplan"
# The only variables of the calling process an OpenTofu process inherits (the worker's own environment
# may hold database URLs, Vault tokens and the like).
INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "HTTP_PROXY", "HTTPS_PROXY",
                 "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
GO_RUNTIME_ENV = {"GOGC": "400", "GOMEMLIMIT": "256MiB"}
"""Go's collector settings for OpenTofu and its provider (which inherits them): short-lived processes that
mostly build schemas collect a quarter as often, within a soft 256 MiB heap each. That cut each plan's and
apply's time by about 13% (``bench/reconciler_create_ready.py``, 100 VMs at one run: 54.3 s -> 46.3-48.7 s; the
largest process stays near 105 MiB). An operator's own ``GOGC`` / ``GOMEMLIMIT`` take precedence."""
SKIP_CREATION = ("skip_schema_creation", "skip_table_creation", "skip_index_creation")
LOCK_FILE = ".terraform.lock.hcl"
INIT_DONE = "controlplane-init.json"
PLAN_BUCKETS = {"create": "create", "update": "update", "replace": "replace", "delete": "delete"}


def check_workspace(workspace: str) -> str:
    """``workspace`` when it is a valid workspace name; InvalidInput otherwise."""
    if not WORKSPACE_RX.fullmatch(workspace):
        raise InvalidInput(f"workspace name {workspace!r} must match {WORKSPACE_RX.pattern}", field="workspace")
    return workspace


def tree_digest(path: Path) -> str:
    """SHA-256 over the relative names and contents of the files under ``path`` (a module's directory)."""
    digest = hashlib.sha256()
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(str(file.relative_to(path)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


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

    @classmethod
    def from_events(cls, events: list[dict[str, Any]]) -> PlanSummary:
        """Summarise the ``planned_change`` events of ``tofu plan -json`` (the same process's stream)."""
        buckets: dict[str, list[str]] = {"create": [], "update": [], "replace": [], "delete": [], "no_op": []}
        for event in events:
            change = event.get("change") or {}
            address = (change.get("resource") or {}).get("addr")
            if event.get("type") == "planned_change" and address:
                buckets[PLAN_BUCKETS.get(str(change.get("action")), "no_op")].append(str(address))
        return cls(**{k: tuple(v) for k, v in buckets.items()})


def _outputs(values: dict[str, Any]) -> dict[str, Any]:
    return {name: item.get("value") for name, item in values.items() if isinstance(item, dict)}


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
        base.update({name: os.environ.get(name, value) for name, value in GO_RUNTIME_ENV.items()})
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
        check_workspace(workspace)
        with self._cache_lock():
            self._check("init", workdir, None, on_event, control, *self._init_args())
        self._check("workspace", workdir, None, on_event, control, "select", "-or-create=true", workspace,
                    json_lines=False)

    def init_key(self, document: dict[str, Any]) -> str:
        """What ``init`` of ``document`` depends on, digested: the binary, the CLI configuration, the backend
        options, the provider requirements, the backend block, and each module call's source and content."""
        terraform = document.get("terraform") or {}
        binary = Path(self.binary)
        cli = self.cli_config.read_bytes().hex() if self.cli_config is not None and self.cli_config.is_file() else ""
        parts = {
            "binary": [str(binary), *((binary.stat().st_size, binary.stat().st_mtime_ns) if binary.exists() else ())],
            "cli_config": hashlib.sha256(cli.encode()).hexdigest(), "init_args": self._init_args(),
            "providers": terraform.get("required_providers"), "backend": terraform.get("backend"),
            "modules": {name: [call.get("source"), tree_digest(Path(str(call.get("source"))))]
                        for name, call in sorted((document.get("module") or {}).items())},
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]

    def shared_init(self, document: dict[str, Any], root: Path, *, on_event: EventHandler | None = None,
                    control: ProcessControl | None = None) -> Path:
        """The initialised data directory for ``document``: ``<root>/<init key>/.terraform``, made by one
        ``init`` the first time this key is seen and only read afterwards (pass it as ``TF_DATA_DIR``, with
        :meth:`copy_lock_file` into the run's directory). A directory whose init did not finish is redone."""
        home = root / self.init_key(document)
        if (home / INIT_DONE).is_file():
            return home / ".terraform"
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(root, 0o700)
        with _file_lock(root / ".init.lock"), self._cache_lock():
            if not (home / INIT_DONE).is_file():
                shutil.rmtree(home, ignore_errors=True)
                home.mkdir(mode=0o700)
                (home / "main.tf.json").write_text(json.dumps(document, indent=2, sort_keys=True))
                self._check("init", home, {"TF_DATA_DIR": str(home / ".terraform")}, on_event, control,
                            *self._init_args())
                (home / INIT_DONE).write_text(json.dumps({"document": "main.tf.json"}))
        return home / ".terraform"

    @staticmethod
    def copy_lock_file(data_dir: Path, workdir: Path) -> None:
        """Put the dependency lock file of the shared init next to a run's ``main.tf.json``."""
        source = data_dir.parent / LOCK_FILE
        if source.is_file():
            shutil.copyfile(source, workdir / LOCK_FILE)

    @staticmethod
    def workspace_env(workspace: str, data_dir: Path) -> dict[str, str]:
        """The variables that point one command at ``workspace`` and the shared init's ``data_dir``."""
        return {"TF_WORKSPACE": check_workspace(workspace), "TF_DATA_DIR": str(data_dir)}

    def plan(self, workdir: Path, env: dict[str, str], *, destroy: bool = False,
             on_event: EventHandler | None = None, control: ProcessControl | None = None) -> PlanSummary:
        """``plan -out`` to ``plan.tfplan``; what it will change is read from the same process's JSON stream."""
        events: list[dict[str, Any]] = []

        def collect(event: dict[str, Any]) -> None:
            if event.get("type") == "planned_change":
                events.append(event)
            if on_event is not None:
                on_event(event)

        args = ["-json", "-input=false", "-no-color", f"-lock-timeout={self.lock_timeout:.0f}s", f"-out={PLAN_FILE}"]
        self._check("plan", workdir, env, collect, control, *args, *(["-destroy"] if destroy else []))
        return PlanSummary.from_events(events)

    def apply(self, workdir: Path, env: dict[str, str], *, plan_file: str = PLAN_FILE,
              on_event: EventHandler | None = None, control: ProcessControl | None = None) -> dict[str, Any]:
        """Apply the saved plan exactly as planned; returns the root module's outputs as ``{name: value}``
        (from the stream's ``outputs`` event)."""
        outputs: dict[str, Any] = {}

        def collect(event: dict[str, Any]) -> None:
            if event.get("type") == "outputs" and isinstance(event.get("outputs"), dict):
                outputs.update(_outputs(event["outputs"]))
            if on_event is not None:
                on_event(event)

        self._check("apply", workdir, env, collect, control, "-json", "-input=false", "-no-color",
                    f"-lock-timeout={self.lock_timeout:.0f}s", plan_file)
        return outputs

    def ensure_workspace(self, workspace: str) -> None:
        """Create ``workspace`` in the backend unless it exists, as the backend itself does (a row holding
        an empty state). The backend creates a workspace under one cluster-wide try-lock that fails, rather
        than waits, when two runs create theirs at once; an ``INSERT ... ON CONFLICT DO NOTHING`` cannot."""
        empty = json.dumps({"version": 4, "terraform_version": "1.0.0", "serial": 0, "lineage": str(uuid.uuid4()),
                            "outputs": {}, "resources": []})
        statement = (f'INSERT INTO "{self.schema_name}".states (name, data) VALUES (%s, %s) '
                     "ON CONFLICT (name) DO NOTHING")
        try:
            with psycopg.connect(self.pg_conn_str, connect_timeout=10) as conn:
                conn.execute(statement, (check_workspace(workspace), empty))
        except psycopg.errors.UndefinedTable:
            return  # a backend that creates its own table (create_schema) makes the workspace itself
        except psycopg.Error as exc:
            raise TemporaryError(f"could not create the workspace {workspace}: {type(exc).__name__}",
                                 component="postgresql") from exc

    def stored_outputs(self, workspace: str) -> dict[str, Any]:
        """The outputs the backend's state of ``workspace`` holds (what ``tofu output`` prints), read from
        PostgreSQL without starting a process; empty when the workspace has no state."""
        query = f'SELECT data FROM "{self.schema_name}".states WHERE name = %s'
        try:
            with psycopg.connect(self.pg_conn_str, connect_timeout=10) as conn:
                row = conn.execute(query, (check_workspace(workspace),)).fetchone()
        except psycopg.errors.UndefinedTable:
            return {}
        except psycopg.Error as exc:
            raise TemporaryError(f"could not read the state of {workspace}: {type(exc).__name__}",
                                 component="postgresql") from exc
        state = json.loads(row[0]) if row and row[0] else {}
        return _outputs(state.get("outputs") or {})

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
    def _init_args(self) -> list[str]:
        backend = [f"-backend-config=schema_name={self.schema_name}"]
        if not self.create_schema:
            backend += [f"-backend-config={option}=true" for option in SKIP_CREATION]
        return ["-json", "-input=false", "-no-color", *backend]

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
        with _file_lock(self.plugin_cache_dir / ".init.lock"):
            yield


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created when missing) for the block: one process at a time."""
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
