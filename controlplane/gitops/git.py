"""Reading a remote repository with the ``git`` binary: ``ls-remote`` for the branch head, then a shallow
fetch of that commit into a fresh directory.

Every command is a fixed argument list (the URL is an argument after the options, never parsed for
options), protocols are restricted to https, ssh and file (plain http only for loopback URLs, which the
source model enforces), ``ext::`` and other transports are refused, no user or system git configuration
is read, and no prompt is shown. An HTTPS token reaches git through ``GIT_ASKPASS`` and the environment,
never through the command line or a file holding the secret.
"""

from __future__ import annotations

import os
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

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


def _base(url: str) -> list[str]:
    allowed = ["https", "ssh", "file"] + (["http"] if url.startswith("http://") else [])
    args = ["git", "-c", "protocol.allow=never", "-c", "core.askPass=", "-c", "credential.helper="]
    for proto in allowed:
        args += ["-c", f"protocol.{proto}.allow=always"]
    return args


def _redact(text: str, credentials: Credentials | None) -> str:
    return text.replace(credentials.token, "***") if credentials and credentials.token else text


class Git:
    """git commands against one remote, with its credentials."""

    def __init__(self, url: str, credentials: Credentials | None = None) -> None:
        self.url = url
        self.credentials = credentials

    def _run(self, args: list[str], cwd: Path | None = None) -> str:
        with tempfile.TemporaryDirectory(prefix="cp-git-") as tmp:
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "GIT_TERMINAL_PROMPT": "0",
                   "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "LC_ALL": "C",
                   "GIT_SSH_COMMAND": "ssh -o BatchMode=yes"}
            if self.credentials is not None:
                askpass = Path(tmp) / "askpass"
                askpass.write_text(ASKPASS)
                askpass.chmod(stat.S_IRWXU)
                env.update(GIT_ASKPASS=str(askpass), CONTROLPLANE_GIT_USERNAME=self.credentials.username,
                           CONTROLPLANE_GIT_PASSWORD=self.credentials.token)
            try:
                out = subprocess.run([*_base(self.url), *args], cwd=cwd, env=env, capture_output=True, text=True,
                                     timeout=TIMEOUT, check=False)
            except subprocess.TimeoutExpired as exc:
                raise TemporaryError(f"git {args[0]} timed out after {TIMEOUT:.0f} s") from exc
            except OSError as exc:
                raise TemporaryError(f"cannot run git: {exc}") from exc
        if out.returncode != 0:
            detail = _redact(out.stderr.strip()[-2000:], self.credentials)
            raise TemporaryError(f"git {args[0]} failed: {detail}")
        return out.stdout

    def head(self, branch: str) -> str:
        """The commit the remote's ``branch`` points at."""
        out = self._run(["ls-remote", "--heads", self.url, f"refs/heads/{branch}"])
        for line in out.splitlines():
            commit, _, ref = line.partition("\t")
            if ref == f"refs/heads/{branch}":
                return commit
        raise TemporaryError(f"the remote has no branch {branch!r}")

    def checkout(self, branch: str, into: Path) -> str:
        """A shallow checkout of ``branch`` in the empty directory ``into``; the commit checked out."""
        self._run(["init", "-q", str(into)])
        self._run(["-C", str(into), "fetch", "-q", "--depth", "1", "--no-tags", self.url,
                   f"refs/heads/{branch}"])
        self._run(["-C", str(into), "-c", "advice.detachedHead=false", "checkout", "-q", "FETCH_HEAD"])
        return self._run(["-C", str(into), "rev-parse", "HEAD"]).strip()
