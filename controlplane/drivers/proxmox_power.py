"""Power actions on one guest, and its removal, through the Proxmox VE API (proxmoxer), waiting for each
task to finish.

``set_power`` is idempotent: it reads the guest's current state first and does nothing when the guest is
already as wanted. Each action posts ``status/<action>`` and polls the task until it stops; a task that
ends in error is a TemporaryError (a lock, a busy node: worth retrying), unless the guest is gone.
"""

from __future__ import annotations

import time
from typing import Any

from controlplane.errors import PermanentError, TemporaryError

from .proxmox_observe import API_OF_KIND, COMPONENT, GuestGone, ProxmoxAccess, call, translated

ACTIONS = ("start", "stop", "shutdown", "reboot")
POWER_OF_ACTION = {"start": "running", "stop": "stopped", "shutdown": "stopped"}


def wait_task(client: Any, node: str, upid: str, *, timeout: float = 300.0, interval: float = 0.2) -> dict[str, Any]:
    """Poll a task until it stops and return its final status; TemporaryError on timeout or failure.

    A transient error while polling is retried until the deadline, so a flaky API does not lose the task.
    """
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with translated(f"polling task {upid}"):
                status = dict(client.nodes(node).tasks(upid).status.get())
            if status.get("status") == "stopped":
                exit_status = str(status.get("exitstatus", ""))
                if exit_status != "OK":
                    raise TemporaryError(f"task {upid} failed: {exit_status}", component=COMPONENT)
                return status
        except TemporaryError as exc:
            if "failed:" in exc.message:
                raise
            last = exc
        time.sleep(interval)
    raise TemporaryError(f"task {upid} did not finish within {timeout:.0f}s ({last or 'still running'})",
                         component=COMPONENT)


def run_action(access: ProxmoxAccess, kind: str, node: str, vmid: int, action: str, *,
               timeout: float = 300.0) -> dict[str, Any]:
    """Post ``action`` (start, stop, shutdown, reboot) for the guest and wait for its task."""
    if action not in ACTIONS:
        raise PermanentError(f"unknown power action {action!r}", component=COMPONENT)
    client = access.client()
    guest = getattr(client.nodes(node), API_OF_KIND[kind])(vmid)
    post = getattr(guest.status, action).post
    upid = call(f"{action} of {vmid}", post, attempts=5)  # a 5xx/595 answer means Proxmox did not start it
    return wait_task(client, node, str(upid), timeout=timeout)


def current_power(access: ProxmoxAccess, kind: str, node: str, vmid: int) -> str:
    """``running`` or ``stopped`` (GuestGone when the guest does not exist)."""
    api = getattr(access.client().nodes(node), API_OF_KIND[kind])
    status = call(f"reading the power of {vmid}", lambda: api(vmid).status.current.get())
    return str(status.get("status", "unknown"))


def set_power(access: ProxmoxAccess, kind: str, node: str, vmid: int, power: str, *,
              graceful: bool = False, timeout: float = 300.0) -> bool:
    """Bring the guest to ``power`` (running|stopped); True when an action was needed and carried out."""
    if power not in ("running", "stopped"):
        raise PermanentError(f"power must be running or stopped, not {power!r}", component=COMPONENT)
    if current_power(access, kind, node, vmid) == power:
        return False
    action = "start" if power == "running" else ("shutdown" if graceful else "stop")
    run_action(access, kind, node, vmid, action, timeout=timeout)
    return True


def destroy_guest(access: ProxmoxAccess, kind: str, node: str, vmid: int, *, timeout: float = 300.0) -> bool:
    """Stop and delete the guest with its disks; False when it did not exist. For a guest the control
    plane made and OpenTofu cannot take over (a half-made container: see the reconciler's adoption)."""
    try:
        set_power(access, kind, node, vmid, "stopped", timeout=timeout)
    except GuestGone:
        return False
    client = access.client()
    guest = getattr(client.nodes(node), API_OF_KIND[kind])(vmid)
    try:
        upid = call(f"deleting {vmid}", lambda: guest.delete(purge=1, **{"destroy-unreferenced-disks": 1}))
    except GuestGone:
        return False
    wait_task(client, node, str(upid), timeout=timeout)
    return True


__all__ = ["ACTIONS", "POWER_OF_ACTION", "GuestGone", "current_power", "destroy_guest", "run_action", "set_power",
           "wait_task"]
