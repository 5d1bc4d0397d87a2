"""Power actions of guests (start, stop, shutdown, reboot, reset, suspend, resume) as PVE tasks.

Memory is overcommitted as on real PVE: a start is refused only when the guest could not be allocated at
all (more memory than the node has RAM and swap), never because other guests already use the node's RAM.
Starting a running VM starts a ``qmstart`` task that fails with ``VM <id> already running``; a running
container is refused at once with ``CT <id> already running`` (PVE checks containers before forking the
worker, VMs inside it).
"""

from __future__ import annotations

from .errors import PveError
from .guestops import TASK, ensure_unlocked
from .model import Guest
from .runtime import Runtime

HOST_RESERVED = 1 << 30
NODE_SWAP = 8 << 30
ACTIONS = ("start", "stop", "shutdown", "reboot", "reset", "suspend", "resume")


def do_start(rt: Runtime, guest: Guest) -> None:
    """Mark ``guest`` running unless it cannot be allocated on its node at all (PveError then)."""
    state = rt.state
    node = state.node(guest.node)
    if guest.kind == "qemu" and guest.status == "running":
        raise PveError(500, f"VM {guest.vmid} already running")
    if guest.maxmem > node.maxmem + NODE_SWAP:
        reason = ("kvm: cannot set up guest memory 'pc.ram': Cannot allocate memory" if guest.kind == "qemu"
                  else f"startup for container '{guest.vmid}' failed")
        raise PveError(500, f"start failed: {reason}")
    guest.paused = False
    guest.mark_running(rt.now())
    state.changed()


def _stop(rt: Runtime, guest: Guest) -> None:
    guest.mark_stopped()
    rt.state.changed()


def power(rt: Runtime, guest: Guest, action: str, user: str) -> str:
    """Run ``action`` on ``guest`` as a task and return its UPID (500 for impossible transitions)."""
    ensure_unlocked(guest)
    running = guest.status == "running"
    name = f"{guest.label} {guest.vmid}"
    if action == "start":
        if guest.template:
            raise PveError(500, f"you can't start a {guest.label.lower()} if it's a template")
        if running and guest.kind == "lxc":
            raise PveError(500, f"{name} already running")
    elif action in ("shutdown", "reboot", "reset", "suspend") and not running:
        raise PveError(500, f"{name} not running")
    elif action == "resume" and not guest.paused:
        raise PveError(500, f"{name} not paused" if running else f"{name} not running")

    def effect() -> None:
        if rt.state.guests.get(guest.vmid) is not guest:
            raise PveError(500, f"{name} does not exist")
        if action == "start":
            do_start(rt, guest)
        elif action in ("stop", "shutdown"):
            _stop(rt, guest)
        elif action in ("reboot", "reset"):
            guest.started_at, guest.paused = rt.now(), False
            rt.state.changed()
        else:
            guest.paused = action == "suspend"
            rt.state.changed()

    return rt.tasks.submit(
        guest.node, f"{TASK[guest.kind]}{action}", str(guest.vmid), user, vmid=guest.vmid, effect=effect
    )
