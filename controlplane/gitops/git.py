"""Reading a remote repository with the ``git`` binary: ``ls-remote`` for the branch head, then a shallow
fetch of that commit into a fresh directory.

Every command is a fixed argument list (the URL is an argument after the options, never parsed for
options), protocols are restricted to https, ssh and file (plain http only for loopback URLs, which the
source model enforces), ``ext::`` and other transports are refused, no user or system git configuration
is read, and no prompt is shown. An HTTPS token reaches git through ``GIT_ASKPASS`` and the environment,
never through the command line or a file holding the secret.

Over ssh, git runs the ``ssh`` command we build (``GIT_SSH_COMMAND``): no ssh configuration file is read
(``-F /dev/null``), no agent, only the deploy key (``-i`` on a 0600 file in the command's own 0700 temporary
directory, removed when the command ends; ``IdentitiesOnly``, ``BatchMode``) and strict host key checking
against the source's ``known_hosts`` only (a server presenting another key is refused, nothing is learnt).
"""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from controlplane.drivers.ansible_files import write_private
from controlplane.errors import TemporaryError

TIMEOUT = 120.0
ASKPASS = """#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "$CONTROLPLANE_GIT_USERNAME" ;;
  *) printf '%s\\n' "$CONTROLPLANE_GIT_PASSWORD" ;;
esac
"""


@dataclass(frozen=True)
class Credentials:
    """An HTTPS user name and token."""

    username: str
    token: str

    def secrets(self) -> list[str]:
        """What must never appear in output."""
        return [self.token]


@dataclass(frozen=True)
class SshCredentials:
    """An ssh deploy key (OpenSSH or PEM text) and the host keys the server must present."""

    private_key: str
    known_hosts: str

    def secrets(self) -> list[str]:
        """What must never appear in output: the key, and each of its lines."""
        return [self.private_key, *(line for line in self.private_key.splitlines() if len(line) > 8)]


SSH_OPTIONS = ("IdentitiesOnly=yes", "BatchMode=yes", "StrictHostKeyChecking=yes", "GlobalKnownHostsFile=/dev/null",
               "UpdateHostKeys=no", "CheckHostIP=no", "IdentityAgent=none", "PasswordAuthentication=no",
               "KbdInteractiveAuthentication=no", "ControlMaster=no", "ControlPath=none", "PermitLocalCommand=no",
               "ProxyCommand=none", "ProxyJump=none", "ConnectTimeout=30")
"""Every ssh option we set (``-F /dev/null`` keeps the system's and the user's ssh configuration out)."""


def ssh_command(directory: Path, credentials: SshCredentials | None) -> str:
    """The ``GIT_SSH_COMMAND`` of one git command, its files written in ``directory`` (ours, 0700); without a
    deploy key only the refusal of every host (no key is known)."""
    known = directory / "known_hosts"
    write_private(known, credentials.known_hosts if credentials else "")
    args = ["ssh", "-F", "/dev/null"]
    for option in (*SSH_OPTIONS, f"UserKnownHostsFile={known}"):
        args += ["-o", option]
    if credentials is not None and credentials.private_key:
        args += ["-i", str(write_private(directory / "deploy_key", credentials.private_key))]
    return shlex.join(args)


@contextmanager
def command_home() -> Iterator[Path]:
    """A fresh 0700 directory for one git command (its HOME and its secret files), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="cp-git-") as tmp:
        os.chmod(tmp, stat.S_IRWXU)
        yield Path(tmp)


def _base(url: str) -> list[str]:
    allowed = ["https", "ssh", "file"] + (["http"] if url.startswith("http://") else [])
    args = ["git", "-c", "protocol.allow=never", "-c", "core.askPass=", "-c", "credential.helper="]
    for proto in allowed:
        args += ["-c", f"protocol.{proto}.allow=always"]
    return args


def _redact(text: str, credentials: Credentials | SshCredentials | None) -> str:
    for secret in credentials.secrets() if credentials else []:
        if secret:
            text = text.replace(secret, "***")
    return text


class Git:
    """git commands against one remote, with its credentials."""

    def __init__(self, url: str, credentials: Credentials | SshCredentials | None = None) -> None:
        self.url = url
        self.credentials = credentials

    def _run(self, args: list[str], cwd: Path | None = None) -> str:
        with command_home() as tmp:
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp), "GIT_TERMINAL_PROMPT": "0",
                   "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "LC_ALL": "C",
                   "GIT_SSH_VARIANT": "ssh"}
            ssh = self.credentials if isinstance(self.credentials, SshCredentials) else None
            env["GIT_SSH_COMMAND"] = ssh_command(tmp, ssh)
            if isinstance(self.credentials, Credentials):
                askpass = tmp / "askpass"
                askpass.write_text(ASKPASS)
                askpass.chmod(stat.S_IRWXU)
                env.update(GIT_ASKPASS=str(askpass), CONTROLPLANE_GIT_USERNAME=self.credentials.username,
                           CONTROLPLANE_GIT_PASSWORD=self.credentials.token)
            try:
                out = subprocess.run([*_base(self.url), *args], cwd=cwd, env=env, capture_output=True, text=True,
                                     timeout=TIMEOUT, check=False)
            except subprocess.TimeoutExpired as exc:
                raise TemporaryError(f"git {args[0]} timed out after {TIMEOUT:.0f} s", component="git") from exc
            except OSError as exc:
                raise TemporaryError(f"cannot run git: {exc}", component="git") from exc
        if out.returncode != 0:
            detail = _redact(out.stderr.strip()[-2000:], self.credentials)
            raise TemporaryError(f"git {args[0]} failed: {detail}", component="git")
        return out.stdout

    def head(self, branch: str) -> str:
        """The commit the remote's ``branch`` points at."""
        out = self._run(["ls-remote", "--heads", self.url, f"refs/heads/{branch}"])
        for line in out.splitlines():
            commit, _, ref = line.partition("\t")
            if ref == f"refs/heads/{branch}":
                return commit
        raise TemporaryError(f"the remote has no branch {branch!r}", component="git")

    def checkout(self, branch: str, into: Path) -> str:
        """A shallow checkout of ``branch`` in the empty directory ``into``; the commit checked out."""
        self._run(["init", "-q", str(into)])
        self._run(["-C", str(into), "fetch", "-q", "--depth", "1", "--no-tags", self.url,
                   f"refs/heads/{branch}"])
        self._run(["-C", str(into), "-c", "advice.detachedHead=false", "checkout", "-q", "FETCH_HEAD"])
        return self._run(["-C", str(into), "rev-parse", "HEAD"]).strip()
