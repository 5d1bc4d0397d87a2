"""``/api/v1/gitops``: apply a whole desired set from files in one transaction (the CLI's ``apply``), and the
live projects as desired-state documents (for ``diff`` and ``export``).

An apply asked with ``Accept: application/x-ndjson`` streams one JSON line per object as it is carried out
(``{"event": "change", "index", "total", "change"}``), then one last line, ``{"event": "result", ...}`` once
the transaction has committed, or ``{"event": "error", "status", "detail", "field"}`` when it was rolled
back: the progress lines of a failed apply describe work that was undone, never a partial commit.
"""

from __future__ import annotations

import contextvars
import json
import logging
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from controlplane.api.deps import DbDep
from controlplane.api.errors import status_for
from controlplane.errors import ControlPlaneError
from controlplane.models.gitops import ApplyRequest, ApplyResult, Change, ProjectFile
from controlplane.services import gitops_apply, gitops_projects
from controlplane.services.transactions import Db
from controlplane.util.paths_text import without_paths

router = APIRouter(prefix="/gitops", tags=["gitops"])
log = logging.getLogger(__name__)
NDJSON = "application/x-ndjson"
FLUSH_S = 0.1


def _apply(db: Db, body: ApplyRequest, on_change: gitops_apply.Progress = gitops_apply.no_progress) -> ApplyResult:
    if body.dry_run:
        try:
            db.read(lambda s: gitops_apply.apply(s, db.caller, body, on_change=on_change))
        except gitops_apply.DryRun as done:
            return done.result
    return db.write("gitops.apply", lambda s: gitops_apply.apply(s, db.caller, body, on_change=on_change),
                    target_kind="GitSource", target=body.source)


def _error(exc: ControlPlaneError) -> dict[str, Any]:
    status = status_for(exc)
    detail = without_paths(exc.message) if status >= 500 else exc.message
    return {"event": "error", "status": status, "detail": detail, "field": exc.field}


class _Lines:
    """NDJSON lines from the apply's thread to the response: gathered, and handed over at most every
    ``FLUSH_S`` seconds (one hand-over per line would make the two threads trade the GIL per object)."""

    def __init__(self) -> None:
        self.chunks: queue.Queue[bytes | None] = queue.Queue()
        self._pending: list[str] = []
        self._last = time.monotonic()

    def add(self, line: str) -> None:
        """One JSON line (without its newline)."""
        self._pending.append(line + "\n")
        if time.monotonic() - self._last >= FLUSH_S:
            self.chunks.put("".join(self._pending).encode())
            self._pending, self._last = [], time.monotonic()

    def close(self) -> None:
        """Hand over what is left, then the end."""
        if self._pending:
            self.chunks.put("".join(self._pending).encode())
        self.chunks.put(None)


def _stream(db: Db, body: ApplyRequest) -> Iterator[bytes]:
    lines = _Lines()

    def progress(index: int, total: int, change: Change) -> None:
        lines.add(f'{{"event":"change","index":{index},"total":{total},"change":{change.model_dump_json()}}}')

    def work() -> None:
        try:
            lines.add('{"event":"result",' + _apply(db, body, progress).model_dump_json()[1:])
        except ControlPlaneError as exc:
            lines.add(json.dumps(_error(exc)))
        except Exception:
            log.exception("a streamed gitops apply failed")
            lines.add(json.dumps({"event": "error", "status": 500, "detail": "internal error: nothing was applied",
                                  "field": None}))
        finally:
            lines.close()

    # the request's context (its id in log lines) goes with the work
    threading.Thread(target=contextvars.copy_context().run, args=(work,), name="gitops-apply", daemon=True).start()
    while (chunk := lines.chunks.get()) is not None:
        yield chunk


@router.post("/apply", response_model=ApplyResult, operation_id="gitopsApply",
             responses={200: {"content": {NDJSON: {}}, "description": "the result; with Accept: "
                              "application/x-ndjson, one line per object then the result or the error"},
                        409: {"description": "a conflict or a quota breach: nothing applied"},
                        422: {"description": "an invalid document (named by file and line): nothing applied"}})
def apply_documents(body: ApplyRequest, db: DbDep, request: Request) -> Any:
    """Create, update and (with ``prune``) delete guests, create and update projects, to match the documents,
    all or nothing."""
    if NDJSON in request.headers.get("accept", ""):
        return StreamingResponse(_stream(db, body), media_type=NDJSON, headers={"X-Accel-Buffering": "no"})
    return _apply(db, body)


@router.get("/projects", response_model=list[ProjectFile], operation_id="gitopsProjects")
def project_documents(db: DbDep) -> list[ProjectFile]:
    """The projects the caller sees as ``kind: Project`` documents (tenant, description, quota, members by
    email), as ``diff`` compares files with them and ``export`` writes them."""
    return [p.document() for p in db.read(lambda s: gitops_projects.live(s, db.caller))]
