"""Running ``controlplane up`` as a user does, for end-to-end tests: a subprocess on a data directory and a
free port (another one when that port was taken before it bound it), started from the data directory's
parent (never the repository, whose ``.env`` is a developer's), with the environment cleared of any
CONTROLPLANE_* setting of the machine. Stopped with Ctrl-C; killed with all it started if it does not stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from controlplane.util.binaries import TOOLS_DIR
from controlplane.util.net import PortTaken, start_on_free_port, wait_for
from tests.fixtures.processes import stop_process

STOP_GRACE = 90.0


def up_env(data_dir: Path, port: int, **settings: str) -> dict[str, str]:
    """The environment of a ``controlplane up`` on ``data_dir`` and ``port``, OpenTofu from ``make tools``, plus
    ``settings`` (``CONTROLPLANE_*`` variables)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTROLPLANE_")}
    env.update(CONTROLPLANE_DATA_DIR=str(data_dir), CONTROLPLANE_HTTP_PORT=str(port),
               CONTROLPLANE_TF_BINARY=str(TOOLS_DIR / "bin" / "tofu"))
    env.update(settings)
    return env


@dataclass
class Up:
    """A running ``controlplane up``: its process, port, environment and log."""

    process: subprocess.Popen[str]
    port: int
    env: dict[str, str]
    log: Path

    @property
    def url(self) -> str:
        """The base URL of its HTTP API."""
        return f"http://127.0.0.1:{self.port}"


def ready(port: int) -> dict[str, object] | None:
    """The body of ``/readyz`` when it says ready, else None."""
    response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
    return response.json() if response.status_code == 200 else None


def _start(data_dir: Path, port: int, timeout: float, settings: dict[str, str]) -> Up:
    log = data_dir.parent / f"up-{port}.log"
    env = up_env(data_dir, port, **settings)
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "controlplane.cli", "up"], env=env,
                                   cwd=data_dir.parent, stdout=out, stderr=subprocess.STDOUT, text=True)
    up = Up(process, port, env, log)
    try:
        wait_for(lambda: process.poll() is not None or ready(port), timeout=timeout, what="controlplane up ready")
    except TimeoutError as exc:
        stop_process(process, sig=signal.SIGINT, grace=STOP_GRACE)
        raise AssertionError(f"{exc}\n{log.read_text()[-3000:]}") from exc
    if process.poll() is not None:
        text = log.read_text()
        if "address already in use" in text.lower():
            raise PortTaken(port, "controlplane up")
        raise AssertionError(f"controlplane up exited with {process.returncode}:\n{text[-3000:]}")
    return up


@contextmanager
def controlplane_up(data_dir: Path, timeout: float = 180, **settings: str) -> Iterator[Up]:
    """``controlplane up`` on ``data_dir`` (with ``settings``, ``CONTROLPLANE_*`` variables), ready, until the
    block ends; then Ctrl-C, and if it has not stopped after a while, it and everything it started are killed
    (and the test fails)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    up = start_on_free_port(lambda port: _start(data_dir, port, timeout, settings))
    try:
        yield up
    finally:
        if up.process.poll() is None:
            up.process.send_signal(signal.SIGINT)
            try:
                up.process.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                stop_process(up.process, grace=0)
                raise AssertionError(f"controlplane up did not stop within {STOP_GRACE:.0f}s after Ctrl-C") from None
