"""Translate SQLAlchemy/psycopg errors raised inside a use case into our own exceptions.

Messages name the field and, where it is the caller's own input, the value (``name: "acme" already
exists``); they never carry a constraint, table or column name of the database.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy.exc

from controlplane.errors import Conflict, InvalidInput, PermissionDenied, TemporaryError

_UNIQUE, _FOREIGN_KEY, _CHECK, _NOT_NULL = "23505", "23503", "23514", "23502"
_PRIVILEGE, _SERIALIZATION, _DEADLOCK = "42501", "40001", "40P01"


@dataclass(frozen=True)
class Unique:
    """What a unique constraint protects: the request field, the column holding the value given, what to say."""

    field: str
    column: str
    says: str = "already exists"


UNIQUE: dict[str, Unique] = {
    "tenants_name_key": Unique("name", "name"),
    "projects_tenant_id_name_key": Unique("name", "name", "already exists in this tenant"),
    "users_email_key": Unique("email", "", "the address cannot be used for this account; choose another"),
    "memberships_user_id_project_id_key": Unique("user_id", "", "the user is already a member of this project"),
    "clusters_name_key": Unique("name", "name"),
    "nodes_cluster_id_name_key": Unique("name", "name", "already exists in this cluster"),
    "virtual_machines_project_name_key": Unique("metadata.name", "name", "already exists in this project"),
    "containers_project_name_key": Unique("metadata.name", "name", "already exists in this project"),
}
"""Every unique constraint a request can run into."""

REFERENCES: dict[str, str] = {
    "tenant_id": "tenant", "project_id": "project", "cluster_id": "cluster", "user_id": "user_id",
    "assigned_user_id": "user_id", "run_id": "run",
}
"""The request field behind each foreign-key column."""

NOUNS: dict[str, str] = {
    "virtual_machines": "virtual machines", "containers": "containers", "projects": "projects", "users": "users",
    "memberships": "project members", "api_keys": "API keys", "nodes": "nodes", "runs": "runs",
    "guest_actions": "power actions", "audit_events": "audit events",
}
"""How a message names the rows of a table that still refer to an object."""


SINGULAR: dict[str, str] = {"tenants": "tenant", "projects": "project", "clusters": "cluster", "users": "user",
                            "api_keys": "API key", "runs": "run"}
DELETE_FROM = re.compile(r"^\s*DELETE\s+FROM\s+\"?(\w+)", re.IGNORECASE)


def _sqlstate(exc: sqlalchemy.exc.DBAPIError) -> str:
    return str(getattr(exc.orig, "sqlstate", "") or "")


def _diag(exc: sqlalchemy.exc.DBAPIError, name: str) -> str:
    return str(getattr(getattr(exc.orig, "diag", None), name, None) or "")


def _param(exc: sqlalchemy.exc.DBAPIError, column: str) -> Any:
    params = exc.params
    return params.get(column) if isinstance(params, dict) else None


def _column(constraint: str, table: str, suffix: str) -> str:
    """The column a default-named constraint (``<table>_<column>_<suffix>``) is about ('' when not)."""
    if table and constraint.startswith(f"{table}_") and constraint.endswith(f"_{suffix}"):
        return constraint[len(table) + 1: -len(suffix) - 1]
    return ""


def duplicate(exc: sqlalchemy.exc.DBAPIError) -> Conflict:
    """The Conflict for a unique violation: the field, the value given, and where it is taken."""
    known = UNIQUE.get(_diag(exc, "constraint_name"))
    if known is None:
        return Conflict("an object with the same unique value already exists")
    value = _param(exc, known.column) if known.column else None
    subject = f"{json.dumps(str(value))} " if value is not None else ""
    return Conflict(f"{known.field}: {subject}{known.says}", field=known.field)


def dangling(exc: sqlalchemy.exc.DBAPIError) -> Conflict | InvalidInput:
    """A foreign-key violation: a DELETE of something still in use, or a reference to a missing object."""
    table = _diag(exc, "table_name")
    column = _column(_diag(exc, "constraint_name"), table, "fkey")
    deleted = DELETE_FROM.match(str(exc.statement or ""))
    if deleted:
        noun = SINGULAR.get(deleted.group(1), "object")
        return Conflict(f"the {noun} is still used by {NOUNS.get(table, 'other objects')}; delete those first")
    field = REFERENCES.get(column, "")
    noun = field.removesuffix("_id") or "object"
    return InvalidInput(f"{field}: no such {noun}" if field else f"no such {noun}", field=field or None)


def _field_of(table: str, column: str) -> str:
    """The request field a column holds: ``quota_vcpus`` → ``quota.vcpus``, a guest's ``name`` → ``metadata.name``."""
    if column.startswith("quota_"):
        return "quota." + column.removeprefix("quota_")
    if table in ("virtual_machines", "containers") and column in ("name", "labels"):
        return f"metadata.{column}"
    return column


def not_allowed(exc: sqlalchemy.exc.DBAPIError, state: str) -> InvalidInput:
    """A check or not-null violation, naming the column's field when the constraint says which."""
    table = _diag(exc, "table_name")
    column = _field_of(table, _diag(exc, "column_name") or _column(_diag(exc, "constraint_name"), table, "check"))
    if state == _NOT_NULL:
        return InvalidInput(f"{column}: a value is required" if column else "a value is required", field=column or None)
    return InvalidInput(f"{column}: the value is not allowed" if column else "a value is not allowed",
                        field=column or None)


@contextmanager
def translated() -> Iterator[None]:
    """Run a block; database errors become Conflict / InvalidInput / PermissionDenied / TemporaryError."""
    try:
        yield
    except sqlalchemy.exc.DBAPIError as exc:
        state = _sqlstate(exc)
        if state == _UNIQUE:
            raise duplicate(exc) from exc
        if state == _FOREIGN_KEY:
            raise dangling(exc) from exc
        if state in (_CHECK, _NOT_NULL):
            raise not_allowed(exc, state) from exc
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


@contextmanager
def taken(field: str, value: str, scope: str) -> Iterator[None]:
    """Run one INSERT whose unique violation the caller can describe better (``scope``: "in project shop")."""
    try:
        yield
    except sqlalchemy.exc.IntegrityError as exc:
        if _sqlstate(exc) != _UNIQUE:
            raise
        raise Conflict(f"{field}: {json.dumps(value)} already exists {scope}", field=field) from exc
