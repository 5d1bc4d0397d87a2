"""A run's page: what it did (action, state, plan, timings, error) and its log, which grows live while the
run lasts (the page asks for the lines after the last one it has)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from controlplane.portal.guest_view import SLUGS, parse_id
from controlplane.portal.session import PageDep
from controlplane.portal.web import render
from controlplane.services import runs

router = APIRouter()
LOG_PAGE = 2000
ERROR_WORDS = ("error", "failed", "fatal", "traceback")


def _lines(rows: list) -> list[dict[str, object]]:  # type: ignore[type-arg]
    return [{"seq": r.seq, "stream": r.stream, "line": r.line, "created_at": r.created_at,
             "error": r.stream == "stderr" or any(w in r.line.lower() for w in ERROR_WORDS)} for r in rows]


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, page: PageDep, run_id: str) -> HTMLResponse:
    """One run of a guest the caller may see (404 otherwise, as in the API)."""
    ident = parse_id(run_id, "run")

    def read(session):  # type: ignore[no-untyped-def]
        return runs.get(session, page.caller, ident), runs.log(session, page.caller, ident, limit=LOG_PAGE)

    run, log = page.db.read(read)
    lines = _lines(log)
    guest_url = f"/guests/{SLUGS.get(run.target_kind, 'vm')}/{run.target_id}"
    return render(request, "run.html", run=run, lines=lines, guest_url=guest_url,
                  last_seq=lines[-1]["seq"] if lines else 0, live=run.state in ("pending", "running"))


@router.get("/runs/{run_id}/log", response_class=HTMLResponse)
def run_log(request: Request, page: PageDep, run_id: str, after: int = Query(0, ge=0)) -> HTMLResponse:
    """The log lines after ``after``, as HTML lines; ``X-Run-State`` says whether more may come."""
    ident = parse_id(run_id, "run")

    def read(session):  # type: ignore[no-untyped-def]
        return runs.get(session, page.caller, ident), runs.log(session, page.caller, ident, after=after,
                                                               limit=LOG_PAGE)

    run, log = page.db.read(read)
    response = render(request, "_log_lines.html", lines=_lines(log))
    response.headers["X-Run-State"] = run.state
    return response
