"""The transactions of one request, run as its caller: ``SET LOCAL`` role, tenant and user on the
application role, so Row-Level Security applies; a failed mutation is rolled back and audited."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from controlplane.db.engine import session_scope
from controlplane.errors import ControlPlaneError, NotFound
from controlplane.services import audit
from controlplane.services.caller import Caller
from controlplane.services.dberrors import translated

T = TypeVar("T")
log = logging.getLogger(__name__)


class Db:
    """Transactions of one request as its caller (``SET LOCAL`` role, tenant and user; application role)."""

    def __init__(self, engine: Engine, caller: Caller) -> None:
        self.engine = engine
        self.caller = caller

    def read(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn`` in one transaction and return its result."""
        with translated(), session_scope(self.engine, self.caller.context()) as session:
            return fn(session)

    def write(self, action: str, fn: Callable[[Session], T], *, target_kind: str = "", target: Any = "") -> T:
        """Run a mutation in one transaction; when it fails, roll back and audit the failure."""
        try:
            with translated(), session_scope(self.engine, self.caller.context()) as session:
                return fn(session)
        except ControlPlaneError as exc:
            self._audit_failure(action, target_kind, target, exc)
            raise

    def _audit_failure(self, action: str, target_kind: str, target: Any, exc: ControlPlaneError) -> None:
        try:
            with session_scope(self.engine, self.caller.context()) as session:
                # a target the caller may not see is not named: its id must not reach this tenant's log
                shown = "" if isinstance(exc, NotFound) else target
                audit.record(session, self.caller, action, target_kind=target_kind, target_id=shown,
                             result=audit.FAILURE, details={"error": type(exc).__name__, "message": exc.message})
        except Exception:  # the original error matters more than a failed failure-audit
            log.exception("could not audit a failed %s", action)
