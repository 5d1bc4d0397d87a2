"""Pull-based GitOps: follow each git source's branch and apply its files atomically.

A poll asks the remote for the branch head (``git ls-remote``); a new commit is fetched shallowly into a
fresh directory, validated and applied in one transaction as the source (a manager of its tenant, so RLS
keeps it there). A failing commit applies nothing: the last good state stays, and the source shows
Failed with the error (file:line). Each poll that looks at a commit is a run with its log.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.engine import Engine

from controlplane.db.engine import RequestContext, session_scope
from controlplane.errors import ControlPlaneError
from controlplane.gitops import files, validate
from controlplane.gitops.documents import KINDS
from controlplane.gitops.git import Credentials, Git, SshCredentials
from controlplane.models.gitops import ApplyRequest, DocumentIn
from controlplane.services import gitops_apply, gitops_sources, transactions

log = logging.getLogger(__name__)


class SecretReader(Protocol):
    """Reads a source's credentials (Vault KV v2)."""

    def read(self, path: str) -> dict[str, str]:
        """The secret at ``path``."""


def _documents(root: Path, row: Any) -> tuple[list[DocumentIn], list[str]]:
    base = root / row.path if row.path else root
    result = validate.load([base], tuple(row.include or files.DEFAULT_INCLUDE), tuple(row.exclude or ()))
    prefix = f"{root}/"
    problems = [str(p).removeprefix(prefix) for p in result.problems]
    docs = [DocumentIn(file=d.location.file.removeprefix(prefix), line=d.location.line, document=d.source.data)
            for d in result.documents if d.kind in KINDS]
    return docs, problems


class Syncer:
    """Polls due sources and applies new commits; ``start`` runs it in a thread."""

    def __init__(self, engine: Engine, vault: SecretReader, *, interval: float = 5.0) -> None:
        self.engine = engine
        self.vault = vault
        self.interval = interval
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def _system(self) -> Any:
        return session_scope(self.engine, RequestContext(role="system"))

    def poll_once(self) -> int:
        """Poll every due source once; how many were polled."""
        with self._system() as session:
            rows = gitops_sources.due(session)
        for row in rows:
            try:
                self.sync(row)
            except Exception:  # one broken source must not stop the others
                log.exception("git source %s: sync failed", row.name)
        return len(rows)

    def _git(self, row: Any) -> Git:
        secret = self.vault.read(row.credential_path) if row.credential_path else {}
        if gitops_sources.is_ssh(row.url):
            return Git(row.url, SshCredentials(secret.get("ssh_private_key", ""), row.known_hosts or ""))
        credentials = Credentials(secret.get("username") or "git", secret["token"]) if secret else None
        return Git(row.url, credentials)

    def sync(self, row: Any) -> None:
        """Look at the source's branch; apply its commit when it is not applied yet."""
        lines: list[str] = []
        try:
            git = self._git(row)
            commit = git.head(row.branch)
        except ControlPlaneError as exc:
            with self._system() as session:
                gitops_sources.record(session, row, state="Failed", seen=row.last_seen_commit, error=exc.message)
            return
        if commit == row.last_applied_commit and row.state == "Synced":
            with self._system() as session:
                gitops_sources.record(session, row, state="Synced", seen=commit)
            return
        lines.append(f"{row.url} {row.branch} is at {commit}")
        ok, error, summary, applied = self._apply(row, git, commit, lines)
        with self._system() as session:
            gitops_sources.record(session, row, state="Synced" if ok else "Failed", seen=commit,
                                  applied=applied, error=error)
            gitops_sources.record_run(session, row, ok=ok, lines=lines, error=error, summary=summary)

    def _apply(self, row: Any, git: Git, commit: str, lines: list[str]
               ) -> tuple[bool, str | None, dict[str, Any], str | None]:
        with tempfile.TemporaryDirectory(prefix="cp-sync-") as tmp:
            try:
                fetched = git.checkout(row.branch, Path(tmp) / "checkout")
            except ControlPlaneError as exc:
                lines.append(exc.message)
                return False, exc.message, {"commit": commit}, None
            lines.append(f"fetched {fetched}")
            docs, problems = _documents(Path(tmp) / "checkout", row)
        if problems:
            lines += problems
            return False, f"{len(problems)} invalid: {problems[0]}", {"commit": fetched}, None
        request = ApplyRequest(source=row.name, repository=row.url, commit=fetched, documents=docs, prune=row.prune)
        db = transactions.Db(self.engine, gitops_sources.source_caller(row))
        try:
            result = db.write("gitops.sync", lambda s: gitops_apply.apply(s, db.caller, request, pulled=True),
                              target_kind="GitSource", target=row.id)
        except ControlPlaneError as exc:
            lines.append(f"nothing applied: {exc.message}")
            return False, exc.message, {"commit": fetched}, None
        counts: dict[str, int] = {}
        for change in result.changes:
            counts[change.action] = counts.get(change.action, 0) + 1
            if change.action != "unchanged":
                lines.append(f"{change.action} {change.kind} {change.project}/{change.name}")
        lines.append(f"applied {fetched}: {counts}")
        return True, None, {"commit": fetched, "counts": counts}, fetched

    def wake(self) -> None:
        """Poll now instead of at the next interval."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                log.exception("git sync poll failed")
            self._wake.wait(self.interval)
            self._wake.clear()

    def start(self) -> Syncer:
        """Run the poll loop in a daemon thread."""
        self._thread = threading.Thread(target=self._loop, name="gitops-sync", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the loop and wait for the current poll."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
