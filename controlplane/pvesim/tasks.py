"""Asynchronous PVE tasks: UPIDs, guest locks held while a task runs, completion after a set duration.

A task's ``effect`` runs when it completes (immediately when the duration is 0, so the first status poll
sees ``stopped``/``OK``); a :class:`PveError` raised by the effect, or an injected task fault, ends the
task with that message as ``exitstatus`` and runs ``on_fail`` instead.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import NotFound, PveError
from .state import ClusterState


@dataclass
class Task:
    """One worker task as ``/nodes/{node}/tasks/{upid}/status`` describes it."""

    upid: str
    node: str
    type: str
    id: str
    user: str
    pid: int
    pstart: int
    starttime: int
    end_at: float
    vmid: int | None = None
    status: str = "running"
    exitstatus: str | None = None
    endtime: int | None = None
    log: list[str] = field(default_factory=list)
    effect: Callable[[], Any] | None = None
    on_fail: Callable[[], Any] | None = None

    def status_entry(self) -> dict[str, Any]:
        """The task status document."""
        out: dict[str, Any] = {
            "upid": self.upid,
            "node": self.node,
            "pid": self.pid,
            "pstart": self.pstart,
            "starttime": self.starttime,
            "type": self.type,
            "id": self.id,
            "user": self.user,
            "status": self.status,
        }
        if self.status == "stopped":
            out["exitstatus"] = self.exitstatus
            out["endtime"] = self.endtime
        return out


class TaskManager:
    """Creates tasks, keeps guest locks while they run and completes them when due."""

    def __init__(
        self,
        state: ClusterState,
        duration: float = 0.0,
        fault_check: Callable[[str, str], str | None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = state
        self.duration = duration
        self.fault_check = fault_check
        self.clock = clock
        self.tasks: dict[str, Task] = {}
        self._due: list[tuple[float, int, str]] = []
        self._seq = itertools.count(1)
        self._pid = itertools.count(0x1000 + state.seed % 0x1000)

    def submit(
        self,
        node: str,
        type_: str,
        id_: str,
        user: str,
        *,
        vmid: int | None = None,
        lock: str | None = None,
        effect: Callable[[], Any] | None = None,
        on_fail: Callable[[], Any] | None = None,
    ) -> str:
        """Start a task, lock its guest, and return its UPID (completes now when duration is 0)."""
        with self.state.lock:
            now = self.clock()
            pid = next(self._pid)
            pstart = int(now * 100) & 0xFFFFFFFF
            start = int(now)
            upid = f"UPID:{node}:{pid:08X}:{pstart:08X}:{start:08X}:{type_}:{id_}:{user}:"
            task = Task(
                upid,
                node,
                type_,
                id_,
                user,
                pid,
                pstart,
                start,
                now + self.duration,
                vmid,
                effect=effect,
                on_fail=on_fail,
            )
            self.tasks[upid] = task
            if vmid is not None and vmid in self.state.guests:
                guest = self.state.guests[vmid]
                guest.busy = type_
                if lock:
                    guest.lock = lock
                self.state.changed()
            if self.duration <= 0:
                self._finish(task)
            else:
                heapq.heappush(self._due, (task.end_at, next(self._seq), upid))
            return upid

    def tick(self) -> None:
        """Complete every task whose time has come."""
        if not self._due:
            return
        with self.state.lock:
            now = self.clock()
            while self._due and self._due[0][0] <= now:
                _, _, upid = heapq.heappop(self._due)
                self._finish(self.tasks[upid])

    def _finish(self, task: Task) -> None:
        error = self.fault_check(task.type, task.id) if self.fault_check else None
        if error is None and task.effect is not None:
            try:
                task.effect()
            except PveError as exc:
                error = exc.reason
        if error is not None and task.on_fail is not None:
            task.on_fail()
        guest = self.state.guests.get(task.vmid) if task.vmid is not None else None
        if guest is not None and guest.busy == task.type:
            guest.busy = None
            guest.lock = None
        task.status, task.endtime = "stopped", int(self.clock())
        task.exitstatus = "OK" if error is None else error
        task.log.append("TASK OK" if error is None else f"TASK ERROR: {error}")
        self.state.changed()

    def get(self, node: str, upid: str) -> Task:
        """The task ``upid`` on ``node`` (500 "no such task" like PVE otherwise)."""
        task = self.tasks.get(upid)
        if task is None or task.node != node:
            raise NotFound(f"no such task '{upid}'" if task is None else f"no such resource '{upid}'")
        return task
