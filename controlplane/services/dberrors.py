"""Translate SQLAlchemy/psycopg errors raised inside a use case into our own exceptions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy.exc

from controlplane.errors import Conflict, InvalidInput, PermissionDenied, TemporaryError

_UNIQUE, _FOREIGN_KEY, _CHECK, _NOT_NULL = "23505", "23503", "23514", "23502"
_PRIVILEGE, _SERIALIZATION, _DEADLOCK = "42501", "40001", "40P01"


def _sqlstate(exc: sqlalchemy.exc.DBAPIError) -> str:
    return str(getattr(exc.orig, "sqlstate", "") or "")


@contextmanager
def translated() -> Iterator[None]:
    """Run a block; database errors become Conflict / InvalidInput / PermissionDenied / TemporaryError."""
    try:
        yield
    except sqlalchemy.exc.DBAPIError as exc:
        state = _sqlstate(exc)
        diag = getattr(exc.orig, "diag", None)
        constraint = getattr(diag, "constraint_name", None) or ""
        if state == _UNIQUE:
            raise Conflict(f"an object with this name already exists ({constraint})", field="name") from exc
        if state == _FOREIGN_KEY:
            raise Conflict(f"the object is still referenced or refers to a missing object ({constraint})") from exc
        if state in (_CHECK, _NOT_NULL):
            raise InvalidInput(f"a value is not allowed ({constraint or 'constraint'})") from exc
        if state == _PRIVILEGE:
            raise PermissionDenied("not allowed on this tenant's data") from exc
        if state in (_SERIALIZATION, _DEADLOCK):
            raise TemporaryError("a concurrent change interfered; retry", component="postgresql") from exc
        # data exceptions: NUL in text (refused by psycopg before sending), out-of-range numbers, bad formats
        if state.startswith("22") or isinstance(exc, sqlalchemy.exc.DataError):
            raise InvalidInput("a value cannot be stored (invalid characters or out of range)") from exc
        if isinstance(exc, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError):
            raise TemporaryError("the database is unavailable", component="postgresql") from exc
        raise
