"""``/api/v1/gitops``: apply a whole desired set from files in one transaction (the CLI's ``apply``)."""

from __future__ import annotations

from fastapi import APIRouter

from controlplane.api.deps import DbDep
from controlplane.models.gitops import ApplyRequest, ApplyResult
from controlplane.services import gitops_apply

router = APIRouter(prefix="/gitops", tags=["gitops"])


@router.post("/apply", response_model=ApplyResult, operation_id="gitopsApply",
             responses={409: {"description": "a conflict or a quota breach: nothing applied"},
                        422: {"description": "an invalid document (named by file and line): nothing applied"}})
def apply_documents(body: ApplyRequest, db: DbDep) -> ApplyResult:
    """Create, update and (with ``prune``) delete guests to match the documents, all or nothing."""
    if body.dry_run:
        try:
            db.read(lambda s: gitops_apply.apply(s, db.caller, body))
        except gitops_apply.DryRun as done:
            return done.result
    return db.write("gitops.apply", lambda s: gitops_apply.apply(s, db.caller, body), target_kind="GitSource",
                    target=body.source)
