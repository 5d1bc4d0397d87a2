"""Running the real ``ansible-inventory`` / ``ansible`` / ``ansible-playbook`` of the venv from the repository root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def ansible_env(**extra: str) -> dict[str, str]:
    """The environment of an Ansible command: the repository's ansible.cfg, no colour, nothing inherited
    that would point the inventory at another database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTROLPLANE_", "ANSIBLE_"))}
    env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    env.update(extra)
    return env


def run(
    tool: str, *args: str, env: dict[str, str], check: bool = True, cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    """Run ``tool`` (from the venv) with ``args``; fails the test with its output when ``check`` and rc != 0."""
    proc = subprocess.run([str(BIN / tool), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"{tool} {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def plain(value: Any) -> Any:
    """``ansible-inventory`` JSON with its ``{"__ansible_unsafe": ...}`` markers replaced by the values."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def inventory_list(env: dict[str, str], inventory: str = "controlplane.yml", *extra: str) -> dict[str, Any]:
    """The raw JSON of ``ansible-inventory -i INVENTORY --list``."""
    return json.loads(run("ansible-inventory", "-i", inventory, "--list", *extra, env=env).stdout)


def groups_of(listing: dict[str, Any]) -> dict[str, set[str]]:
    """Group name -> direct member hosts, from ``--list`` JSON."""
    return {name: set(body.get("hosts", [])) for name, body in listing.items() if name != "_meta"}
