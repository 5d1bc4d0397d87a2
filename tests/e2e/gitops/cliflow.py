"""Helpers of the GitOps end-to-end tests: a git repository of desired-state files on disk (real ``git``)
and the ``controlplane`` command run as a subprocess against a server over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` (fixed arguments, a test identity); its stdout."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.test", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.test", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}
    out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, timeout=60,
                         check=True)
    return out.stdout.strip()


def vm_file(name: str, kind: str = "VirtualMachine", **spec: Any) -> str:
    """A small guest document as YAML."""
    body: dict[str, Any] = {"cluster": "demo", "cores": 1, "memory_mb": 512, "image": "debian-12",
                            "disks": [{"size_gb": 4, "storage": "local-lvm"}]}
    body.update(spec)
    doc = {"apiVersion": "controlplane/v1", "kind": kind, "metadata": {"name": name, "project": "shop"}, "spec": body}
    return yaml.safe_dump(doc, sort_keys=False)


@dataclass
class Repo:
    """A git checkout of desired-state files."""

    root: Path

    @classmethod
    def init(cls, root: Path) -> Repo:
        """A new repository with branch main."""
        root.mkdir(parents=True)
        git(root, "init", "-q", "-b", "main")
        return cls(root)

    def write(self, relative: str, text: str) -> None:
        """Write a file (parents made)."""
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def remove(self, relative: str) -> None:
        """Delete a file."""
        (self.root / relative).unlink()

    def commit(self, message: str) -> str:
        """Commit everything; the new commit's hash."""
        git(self.root, "add", "-A")
        git(self.root, "commit", "-q", "-m", message)
        return git(self.root, "rev-parse", "HEAD")


@dataclass
class Cli:
    """``controlplane`` as a user runs it: URL and API key in the environment."""

    url: str
    token: str

    def __call__(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "CONTROLPLANE_URL": self.url, "CONTROLPLANE_TOKEN": self.token}
        return subprocess.run([sys.executable, "-m", "controlplane.cli", *args], capture_output=True, text=True,
                              env=env, cwd=cwd, timeout=300, check=False)
