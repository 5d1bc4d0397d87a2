"""Running ``controlplane up`` as a user does, for end-to-end tests: a subprocess on a data directory and a
free port, with the environment cleared of any CONTROLPLANE_* setting of the machine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from controlplane.util.binaries import TOOLS_DIR


def up_env(data_dir: Path, port: int) -> dict[str, str]:
    """The environment of a ``controlplane up`` on ``data_dir`` and ``port``, OpenTofu from ``make tools``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTROLPLANE_")}
    env.update(CONTROLPLANE_DATA_DIR=str(data_dir), CONTROLPLANE_HTTP_PORT=str(port),
               CONTROLPLANE_TF_BINARY=str(TOOLS_DIR / "bin" / "tofu"))
    return env


@contextmanager
def controlplane_up(data_dir: Path, port: int) -> Iterator[subprocess.Popen[str]]:
    """``controlplane up`` running until the block ends (then stopped with Ctrl-C); output in a log file."""
    with open(data_dir.parent / f"up-{port}.log", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "controlplane.cli", "up"], env=up_env(data_dir, port),
                                   stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                process.wait(timeout=90)


def ready(port: int) -> dict[str, object] | None:
    """The body of ``/readyz`` when it says ready, else None."""
    response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
    return response.json() if response.status_code == 200 else None
