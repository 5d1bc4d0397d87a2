"""The transactions of one request, run as its caller: ``SET LOCAL`` role, tenant and user on the
application role, so Row-Level Security applies; a failed mutation is rolled back and audited."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from controlplane.db.engine import RequestContext, session_scope
from controlplane.errors import ControlPlaneError, NotFound
from controlplane.services import audit
from controlplane.services.caller import Caller
from controlplane.services.dberrors import translated

T = TypeVar("T")
log = logging.getLogger(__name__)


class OpenTransaction:
    """A transaction begun before the request's work, for its first read or write: the one the credential check
    ran in, which already acts as the caller (the check's statement set the claim too)."""

    def __init__(self, engine: Engine, ctx: RequestContext) -> None:
        self.ctx = ctx
        self.session = Session(engine, expire_on_commit=False)
        self._transaction = self.session.begin()

    @contextmanager
    def used(self) -> Iterator[Session]:
        """The session, committed when the block succeeds and rolled back when it raises; closed after."""
        try:
            yield self.session
            self._transaction.commit()
        finally:
            self.close()

    def close(self) -> None:
        """End it: an unfinished transaction is rolled back and the connection goes back to the pool."""
        self.session.close()


class Db:
    """Transactions of one request as its caller (``SET LOCAL`` role, tenant and user; application role).

    ``first`` is a transaction already begun as the caller (by the credential check): the first read or
    write runs in it, the others each in their own.
    """

    def __init__(self, engine: Engine, caller: Caller, first: OpenTransaction | None = None) -> None:
        self.engine = engine
        self.caller = caller
        self._first = first

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        first, self._first = self._first, None
        if first is not None and first.ctx == self.caller.context():
            with first.used() as session:
                yield session
        else:
            with session_scope(self.engine, self.caller.context()) as session:
                yield session

    def read(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn`` in one transaction and return its result."""
        with translated(), self._transaction() as session:
            return fn(session)

    def write(self, action: str, fn: Callable[[Session], T], *, target_kind: str = "", target: Any = "") -> T:
        """Run a mutation in one transaction; when it fails, roll back and audit the failure."""
        try:
            with translated(), self._transaction() as session:
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
