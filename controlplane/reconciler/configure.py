"""The configure step of a run: once the guest is provisioned and running, run ``spec.configure.playbook``
from ``playbooks/`` against it with ansible-runner (drivers/ansible.py) and show the outcome as condition
Configured.

- The address is observed first (guest agent / container interfaces) and written to ``status.ipv4``.
- The SSH private key comes from Vault (:mod:`.configurator` names the paths); the path, never the key,
  goes into ``status.configuration``.
- The play's events stream into the run's log (stream ``ansible``) while it runs.
- A run is skipped when the last successful one had the same digest (``spec.configure`` plus the playbook
  directory's content); a change of either runs it again.
- Not reachable yet (no address, port closed, host unreachable for Ansible, timeout): TemporaryError, so
  the run is retried with backoff. A failed task: Configured=False naming task and host, and
  :class:`ConfigurationFailed`, which is not retried until the spec or the playbook changes.
"""

from __future__ import annotations

import json
import socket
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from controlplane.drivers.ansible import GuestTarget, PlaybookEvent, PlaybookResult, run_playbook
from controlplane.drivers.proxmox_address import guest_ipv4
from controlplane.drivers.proxmox_observe import ProxmoxAccess
from controlplane.errors import ComponentError, PermanentError, TemporaryError
from controlplane.services.inventory import user_vars

from . import leases
from .conditions import CONFIGURED, get_condition, now_iso, set_condition
from .configurator import Configurator, read_ssh_key
from .context import RunContext
from .kinds import KINDS
from .runlog import RunRecorder
from .store import ManagedObject

COMPONENT = "ansible"


class ConfigurationFailed(PermanentError):
    """The playbook ran and failed (a task failed, or the playbook is broken): retrying will not help."""

    def __init__(self, message: str) -> None:
        super().__init__(message, component=COMPONENT, field="spec.configure")


def _observe_address(access: ProxmoxAccess, obj: ManagedObject, run: RunRecorder) -> str | None:
    """The address the guest reports now (written to ``status.ipv4``), else the one recorded."""
    try:
        seen = guest_ipv4(access, obj.kind.name, str(obj.status["node"]), int(obj.status["vmid"]))
    except ComponentError as exc:
        run.log(f"configure: the guest reports no address yet ({exc.message})")
        seen = None
    if seen and seen != obj.status.get("ipv4"):
        run.log(f"configure: the guest reports address {seen}")
        obj.status["ipv4"] = seen
    address = obj.status.get("ipv4")
    return str(address).split("/", 1)[0] if address else None


def _accepts_connections(address: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def _event_line(run: RunRecorder) -> Any:
    def on_event(event: PlaybookEvent) -> None:
        text = event.stdout.strip()
        run.log(text if text else f"{event.kind} host={event.host} task={event.task}", stream="ansible")
    return on_event


def _waiting(obj: ManagedObject, reason: str, message: str) -> TemporaryError:
    obj.conditions = set_condition(obj.conditions, CONFIGURED, False, reason, message)
    return TemporaryError(message, component=COMPONENT)


def configure_step(ctx: RunContext, obj: ManagedObject, run: RunRecorder, access: ProxmoxAccess) -> None:
    """Configure the guest when ``spec.configure`` asks for it and it is not configured as asked yet."""
    wanted = obj.spec.get("configure")
    if not wanted:
        if obj.status.pop("configuration", None) is not None or get_condition(obj.conditions, CONFIGURED):
            obj.conditions = [c for c in obj.conditions if c.get("type") != CONFIGURED]
        return
    conf: Configurator | None = ctx.configure
    if conf is None:
        obj.conditions = set_condition(obj.conditions, CONFIGURED, "Unknown", "NoConfigureDriver",
                                       "no configuration driver is wired into this worker")
        return
    if obj.spec.get("power", "running") != "running":
        obj.conditions = set_condition(obj.conditions, CONFIGURED, "Unknown", "GuestStopped",
                                       "the guest is configured when it runs")
        return
    playbook = str(wanted.get("playbook") or "site.yml")
    digest = conf.digest(wanted)
    if digest is None:
        obj.conditions = set_condition(obj.conditions, CONFIGURED, False, "NoPlaybook",
                                       f"no playbook {playbook!r} in {conf.playbook_dir}")
        raise ConfigurationFailed(f"no playbook {playbook!r} in the playbooks directory")
    address = _observe_address(access, obj, run)
    last = obj.status.get("configuration") or {}
    configured = (get_condition(obj.conditions, CONFIGURED) or {}).get("status") == "True"
    if last.get("ok") and last.get("digest") == digest and configured:
        run.log(f"configure: {playbook} already applied as asked ({digest[:19]}...)")
        return
    if not address:
        raise _waiting(obj, "WaitingForAddress", "the guest reports no IPv4 address yet")
    try:
        key_path, key = read_ssh_key(ctx.vault, obj.tenant_id, obj.project_id)
    except TemporaryError as exc:
        raise _waiting(obj, "NoSSHKey", exc.message) from exc
    if not _accepts_connections(address, conf.port, conf.connect_timeout):
        raise _waiting(obj, "Unreachable", f"{address}:{conf.port} does not accept connections yet")
    user = str(obj.spec.get("user") or "root") if obj.kind.name == "VirtualMachine" else "root"
    run.log(f"configure: {playbook} on {address}:{conf.port} as {user} with the SSH key at vault:{key_path}")
    run.flush()
    target = GuestTarget(obj.name, address, conf.port, user, hostvars={
        "guest_name": obj.name, "controlplane_id": str(obj.id), "controlplane_kind": obj.kind.name,
        "spec": obj.spec,
    })
    result = run_playbook(target, playbook, private_key_pem=key, extra_vars=user_vars(obj.spec),
                          on_event=_event_line(run), cancel=ctx.cancel, playbook_dir=conf.playbook_dir,
                          timeout=conf.timeout, work_dir=conf.work_dir)
    del key
    _record(obj, run, result, digest=digest, playbook=playbook, address=address, user=user, key_path=key_path)


def _record(obj: ManagedObject, run: RunRecorder, result: PlaybookResult, **facts: Any) -> None:
    """Turn the play's outcome into status, condition and, when it did not succeed, an error."""
    run.set_summary(configure={"status": result.status, "rc": result.rc, "changed": result.changed,
                               "stats": result.stats, "playbook": facts["playbook"]})
    if result.status == "canceled":
        raise TemporaryError("the configuration run was cancelled", component=COMPONENT, delay=0.0)
    if result.status == "timeout":
        raise _waiting(obj, "Timeout", f"{facts['playbook']} did not finish in time")
    if not result.ok and (result.stats.get("dark") or {}).get(obj.name):
        raise _waiting(obj, "Unreachable", result.message)
    obj.status["configuration"] = {
        **facts, "ok": result.ok, "changed": result.changed, "failed_task": result.failed_task,
        "failed_host": result.failed_host, "finished_at": now_iso(),
    }
    if result.ok:
        run.log(f"configure: {facts['playbook']} succeeded ({result.changed} changed)")
        obj.conditions = set_condition(obj.conditions, CONFIGURED, True, "Configured",
                                       f"{facts['playbook']}: {result.changed} changed")
        return
    reason = "TaskFailed" if result.failed_task else "PlaybookFailed"
    obj.conditions = set_condition(obj.conditions, CONFIGURED, False, reason, result.message)
    run.log(f"configure: {result.message}")
    raise ConfigurationFailed(result.message)


STALE_SQL = """
SELECT g.id, g.tenant_id, g.spec->'configure' AS configure, g.status->'configuration'->>'digest' AS digest
FROM {table} g
WHERE g.cluster_id = :c AND g.deleted_at IS NULL AND g.generation <= g.observed_generation
  AND jsonb_typeof(g.spec->'configure') = 'object' AND coalesce(g.spec->>'power', 'running') = 'running'
  AND g.status ? 'configuration'
"""


def enqueue_stale(conn: sa.Connection, conf: Configurator, cluster_id: UUID) -> int:
    """Make due every guest of the cluster whose last configuration run (successful or failed) was of
    another digest than ``spec.configure`` and the playbooks give now (a playbook was edited); returns
    how many. Each distinct ``spec.configure`` is digested once per call."""
    digests: dict[str, str | None] = {}
    enqueued = 0
    for kind in KINDS.values():
        for row in conn.execute(sa.text(STALE_SQL.format(table=kind.table)), {"c": cluster_id}):
            key = json.dumps(row.configure, sort_keys=True)
            if key not in digests:
                digests[key] = conf.digest(row.configure)
            if digests[key] is not None and digests[key] != row.digest:
                leases.enqueue(conn, kind.name, row.id, row.tenant_id)
                enqueued += 1
    return enqueued
