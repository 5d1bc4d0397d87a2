"""Configuring one guest with a playbook from ``playbooks/``, through ansible-runner.

Each run gets a fresh private data directory holding an inventory with that guest only (every value
``!unsafe``), the extra variables, and the SSH private key (mode 0600); the directory is removed when the
run ends, however it ends. ansible-runner writes nothing into ``env/`` (``suppress_env_files``), events are
handed to ``on_event`` as they happen and are not stored, and the ``starting`` status (which carries the
environment) is never looked at. Runner errors become :mod:`controlplane.errors` here.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controlplane.drivers.ansible_files import (
    configuration_digest,
    has_playbook,
    playbook_digest,
    private_data_dir,
    unsafe_yaml,
    write_private,
)
from controlplane.errors import ComponentError, InvalidInput
from controlplane.util.binaries import PROJECT_ROOT, find_binary
from controlplane.util.metrics import timed_tool

__all__ = [
    "PLAYBOOKS_DIR", "GuestTarget", "PlaybookEvent", "PlaybookResult", "configuration_digest", "playbook_digest",
    "run_playbook",
]

COMPONENT = "ansible"
PLAYBOOKS_DIR = PROJECT_ROOT / "playbooks"


@dataclass(frozen=True)
class GuestTarget:
    """The guest to configure: its inventory name, how to reach it, and its host variables.

    ``hostvars`` come from the guest's record (see ``controlplane.services.inventory``); keys starting
    with ``ansible_`` are ignored there, since connection settings are the driver's.
    """

    name: str
    address: str
    port: int = 22
    user: str = "root"
    hostvars: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PlaybookEvent:
    """One event of a running play: its kind (``runner_on_ok``, ...), where, and the text Ansible printed."""

    kind: str
    host: str | None
    task: str | None
    changed: bool
    failed: bool
    stdout: str


@dataclass
class PlaybookResult:
    """How a run ended. ``status`` is ansible-runner's (successful, failed, canceled, timeout)."""

    ok: bool
    status: str
    rc: int | None
    changed: int = 0
    failed_task: str | None = None
    failed_host: str | None = None
    message: str = ""
    stats: dict[str, dict[str, int]] = field(default_factory=dict)


def _inventory(target: GuestTarget, key_file: Path, known_hosts: Path, strict: bool) -> str:
    hostvars = {k: v for k, v in target.hostvars.items() if not k.startswith("ansible_")}
    checking = "yes" if strict else "accept-new"
    hostvars.update(
        ansible_host=target.address, ansible_port=target.port, ansible_user=target.user,
        ansible_ssh_private_key_file=str(key_file),
        ansible_ssh_common_args=f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking={checking}",
    )
    return unsafe_yaml({"all": {"hosts": {target.name: hostvars}}})


class _Collector:
    """Turns ansible-runner events into :class:`PlaybookEvent` for the caller and remembers the outcome."""

    def __init__(self, on_event: Callable[[PlaybookEvent], None] | None) -> None:
        self.on_event = on_event
        self.failed_task: str | None = None
        self.failed_host: str | None = None
        self.message = ""
        self.stats: dict[str, dict[str, int]] = {}
        self.tail: list[str] = []

    def __call__(self, event: dict[str, Any]) -> bool:
        kind = str(event.get("event", ""))
        data = event.get("event_data") or {}
        res = data.get("res") if isinstance(data.get("res"), dict) else {}
        failed = kind == "runner_on_unreachable" or (kind == "runner_on_failed" and not data.get("ignore_errors"))
        if failed and self.failed_task is None:
            self.failed_task, self.failed_host = data.get("task"), data.get("host")
            self.message = str(res.get("msg") or ("unreachable" if kind == "runner_on_unreachable" else "failed"))
        if event.get("stdout"):
            self.tail = (self.tail + str(event["stdout"]).splitlines())[-10:]
        if kind == "playbook_on_stats":
            self.stats = {
                name: {host: int(n) for host, n in (data.get(name) or {}).items()}
                for name in ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored")
            }
        if self.on_event is not None and (event.get("stdout") or kind.startswith("runner_on")):
            self.on_event(PlaybookEvent(kind, data.get("host"), data.get("task"), bool(res.get("changed")),
                                        failed, str(event.get("stdout") or "")))
        return False  # not stored: nothing of the run stays on disk


def run_playbook(
    target: GuestTarget,
    playbook: str = "site.yml",
    *,
    private_key_pem: str,
    extra_vars: Mapping[str, Any] | None = None,
    on_event: Callable[[PlaybookEvent], None] | None = None,
    cancel: Callable[[], bool] | threading.Event | None = None,
    playbook_dir: Path = PLAYBOOKS_DIR,
    known_hosts: str | None = None,
    timeout: int | None = None,
    work_dir: Path | None = None,
) -> PlaybookResult:
    """Run ``playbook`` against ``target`` only and report how it went.

    ``known_hosts`` (lines of a known_hosts file) makes host key checking strict; without it the run
    trusts the key the guest presents first (it has just been created). ``extra_vars`` are never
    templated. ``cancel`` stops the run when it returns True (or when the Event is set).
    """
    import ansible_runner

    if not has_playbook(playbook_dir, playbook):
        raise InvalidInput(f"no playbook {playbook!r} in {playbook_dir}", field="spec.configure.playbook")
    binary = find_binary("ansible-playbook")
    if binary is None:
        raise ComponentError("ansible-playbook is not installed (pip install ansible-core)", component=COMPONENT)
    is_cancelled = cancel.is_set if isinstance(cancel, threading.Event) else cancel
    collector = _Collector(on_event)
    with private_data_dir(work_dir) as (private, sockets):
        key_file = write_private(private / "ssh_key", private_key_pem.rstrip("\n") + "\n")
        hosts_file = write_private(private / "known_hosts", known_hosts or "")
        hosts_yaml = _inventory(target, key_file, hosts_file, strict=bool(known_hosts))
        inventory = write_private(private / "inventory.yml", hosts_yaml)
        vars_file = write_private(private / "extra_vars.yml", unsafe_yaml(dict(extra_vars or {})))
        config = write_private(private / "ansible.cfg", "[defaults]\n")  # no stray ansible.cfg is read
        envvars = {
            "ANSIBLE_ROLES_PATH": str(playbook_dir.resolve() / "roles"),
            "ANSIBLE_INVENTORY_ENABLED": "yaml",
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(sockets),
            "ANSIBLE_SSH_ARGS": "-o ControlMaster=auto -o ControlPersist=15s",
            "ANSIBLE_LOCAL_TEMP": str(private / "tmp"),
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_CONFIG": str(config),
            "PATH": os.pathsep.join([str(Path(binary).parent), os.environ.get("PATH", "")]),
        }
        with timed_tool("ansible", "playbook") as outcome:
            try:
                runner = ansible_runner.run(
                    private_data_dir=str(private), project_dir=str(playbook_dir.resolve()), playbook=playbook,
                    inventory=str(inventory), limit=target.name, extravars=str(vars_file), envvars=envvars,
                    event_handler=collector, cancel_callback=is_cancelled, timeout=timeout,
                    suppress_env_files=True, quiet=True, ident="run", rotate_artifacts=1,
                )
            except Exception as exc:  # ansible-runner raises its own ConfigurationError, OSError, ...
                raise ComponentError(f"ansible-runner could not run {playbook}: {exc}",
                                     component=COMPONENT) from exc
            if runner.status != "successful" or runner.rc != 0:
                outcome.failed()
    changed = sum(collector.stats.get("changed", {}).values())
    ok = runner.status == "successful" and runner.rc == 0
    message = collector.message
    if not ok and collector.failed_task:
        message = f"task {collector.failed_task!r} failed on {collector.failed_host}: {collector.message}"
    elif not ok:
        last = " / ".join(line.strip() for line in collector.tail if line.strip())
        message = f"ansible-playbook ended {runner.status} (rc={runner.rc}): {last}"
    return PlaybookResult(ok, runner.status, runner.rc, changed, collector.failed_task, collector.failed_host,
                          message, collector.stats)
