"""Running one OpenTofu/Terraform command as a subprocess: output streamed line by line (redacted) to a
callback, a timeout, cancellation, and no secret on the command line.

Cancellation and timeouts first send SIGINT (OpenTofu then stops its providers, writes what it has to the
state and releases the lock), and after a grace period SIGKILL to the whole process group (the providers
included). Secrets reach the process only through its environment.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controlplane.errors import TemporaryError

from .terraform_events import COMPONENT, Redactor, decode_line, diagnostic_text

EventHandler = Callable[[dict[str, Any]], None]
_running: dict[int, threading.Event | None] = {}  # process group -> cancel event, of the commands in progress
_running_lock = threading.Lock()


def kill_running(cancels: list[threading.Event]) -> int:
    """SIGKILL the process group of every command still running under one of the ``cancels`` events (a
    stopping worker abandoning those runs, so no OpenTofu outlives it holding a state lock). Returns how
    many were killed."""
    with _running_lock:
        groups = [group for group, cancel in _running.items() if cancel is not None and cancel in cancels]
    for group in groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
    return len(groups)

_started: Counter[str] = Counter()
_started_lock = threading.Lock()


def started_processes() -> dict[str, int]:
    """How many OpenTofu/Terraform processes this Python process has started, by command (``plan``,
    ``apply``, ...), since it began: what tests and benchmarks count to prove a path starts none."""
    with _started_lock:
        return dict(_started)


class TerraformCancelled(TemporaryError):
    """The run was cancelled before the command finished; the state lock is released."""


class TerraformTimeout(TemporaryError):
    """The command ran longer than its timeout and was stopped."""


@dataclass
class CommandResult:
    """What a finished command left behind: exit code, error diagnostics, redacted stdout and stderr."""

    returncode: int
    errors: list[str] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""


@dataclass
class ProcessControl:
    """How long a command may run, how it is cancelled, and where its pid is published (for operators)."""

    timeout: float = 1800.0
    cancel: threading.Event | None = None
    grace: float = 10.0
    on_start: Callable[[int], None] | None = None


def run_command(
    argv: list[str], workdir: Path, env: dict[str, str], redact: Redactor, *,
    on_event: EventHandler | None = None, control: ProcessControl | None = None, json_lines: bool = True,
) -> CommandResult:
    """Run ``argv`` in ``workdir``; each stdout line is redacted, decoded and handed to ``on_event`` as it
    arrives. Raises TerraformCancelled / TerraformTimeout when stopped; otherwise returns the result."""
    control = control or ProcessControl()
    with _started_lock:
        _started[argv[1] if len(argv) > 1 else argv[0]] += 1
    proc = subprocess.Popen(
        argv, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, bufsize=1, start_new_session=True,
    )
    with _running_lock:
        _running[proc.pid] = control.cancel
    if control.on_start:
        control.on_start(proc.pid)
    stderr_parts: list[str] = []
    reader = threading.Thread(target=lambda: stderr_parts.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    stopped = _Watchdog(proc, control)
    stopped.start()
    result = CommandResult(returncode=0)
    lines: list[str] = []
    try:
        for raw in proc.stdout:  # type: ignore[union-attr]
            line = redact(raw)
            lines.append(line)
            if not json_lines:
                continue
            event = decode_line(line)
            if event.get("type") == "diagnostic" and (event.get("diagnostic") or {}).get("severity") == "error":
                result.errors.append(diagnostic_text(event))
            if on_event is not None:
                on_event(event)
    finally:
        result.returncode = proc.wait()
        stopped.finish()
        with _running_lock:
            _running.pop(proc.pid, None)
        reader.join(timeout=5)
    result.stdout = "".join(lines)
    result.stderr = redact("".join(stderr_parts))
    if stopped.reason == "cancelled":
        raise TerraformCancelled(f"{argv[1]} cancelled", component=COMPONENT)
    if stopped.reason == "timeout":
        raise TerraformTimeout(f"{argv[1]} timed out after {control.timeout:.0f}s", component=COMPONENT)
    return result


class _Watchdog(threading.Thread):
    """Stops the process when the run is cancelled or times out: SIGINT, then SIGKILL after the grace."""

    def __init__(self, proc: subprocess.Popen[str], control: ProcessControl) -> None:
        super().__init__(daemon=True)
        self.proc = proc
        self.control = control
        self.reason: str | None = None
        self._done = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + self.control.timeout
        cancel = self.control.cancel
        while not self._done.wait(0.05):
            if cancel is not None and cancel.is_set():
                self.reason = "cancelled"
            elif time.monotonic() >= deadline:
                self.reason = "timeout"
            else:
                continue
            self._stop()
            return

    def _stop(self) -> None:
        self._signal(signal.SIGINT, group=False)
        if self._done.wait(self.control.grace):
            return
        self._signal(signal.SIGKILL, group=True)

    def _signal(self, sig: signal.Signals, *, group: bool) -> None:
        try:
            if group:
                os.killpg(self.proc.pid, sig)
            else:
                self.proc.send_signal(sig)
        except ProcessLookupError:
            pass

    def finish(self) -> None:
        """The process has exited: stop watching; kill any provider it left behind in its group."""
        self._done.set()
        self.join(timeout=self.control.grace + 5)
        self._signal(signal.SIGKILL, group=True)
