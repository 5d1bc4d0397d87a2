"""Keyset (cursor) pagination, sorting and text search over any SELECT.

A cursor encodes the sort key and the last row's (sort value, id); the next page starts strictly after
it, so pages stay stable while rows are added.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import Session

from controlplane.errors import InvalidInput

MAX_LIMIT = 500


@dataclass
class ListParams:
    """What a client asked for: page size, cursor, sort key (``-`` for descending) and search text."""

    limit: int = 50
    cursor: str | None = None
    sort: str | None = None
    q: str | None = None


def _encode(sort: str, value: Any, ident: Any) -> str:
    if isinstance(value, datetime):
        value = {"dt": value.isoformat()}
    raw = json.dumps([sort, value, str(ident)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


BIGINT = 2**63 - 1
BAD_CURSOR = "invalid cursor (or the sort changed since it was issued)"


def _decode(cursor: str, sort: str) -> tuple[Any, Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        decoded = json.loads(raw)
        if not isinstance(decoded, list) or len(decoded) != 3:
            raise ValueError("not a cursor")
        cursor_sort, value, ident = decoded
        if cursor_sort != sort:
            raise ValueError("sort changed")
        if isinstance(value, dict):
            value = datetime.fromisoformat(value["dt"])
        return value, ident
    except (ValueError, TypeError, KeyError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidInput(BAD_CURSOR, field="cursor") from exc


def _python_type(column: sa.ColumnElement) -> type | None:
    try:
        return column.type.python_type  # type: ignore[no-any-return]
    except NotImplementedError:
        return None


def _typed(value: Any, column: sa.ColumnElement) -> Any:
    """``value`` as the column's type, or InvalidInput: a forged cursor never reaches the SQL."""
    expected = _python_type(column)
    if value is None:
        return None
    if expected is int:
        if isinstance(value, str) and value.isdigit() and len(value) <= 19:
            value = int(value)  # ids are issued as strings
        ok = isinstance(value, int) and not isinstance(value, bool) and -BIGINT <= value <= BIGINT
    elif expected is UUID:
        try:
            return UUID(value) if isinstance(value, str) else None
        except ValueError as exc:
            raise InvalidInput(BAD_CURSOR, field="cursor") from exc
    elif expected is datetime:
        ok = isinstance(value, datetime)
    elif expected is str:
        ok = isinstance(value, str) and "\x00" not in value
    else:
        ok = isinstance(value, str | int | float) and not isinstance(value, bool)
    if not ok:
        raise InvalidInput(BAD_CURSOR, field="cursor")
    return value


def paginate(
    session: Session,
    stmt: sa.Select,
    params: ListParams,
    *,
    id_column: sa.ColumnElement,
    sortable: dict[str, sa.ColumnElement],
    default_sort: str,
    search: list[sa.ColumnElement] | None = None,
) -> tuple[list[sa.Row], str | None]:
    """One page of ``stmt``; returns the rows and the cursor of the next page (None on the last)."""
    if not 1 <= params.limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    sort = params.sort or default_sort
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in sortable:
        raise InvalidInput(f"cannot sort by {key!r}; one of: {', '.join(sorted(sortable))}", field="sort")
    column = sortable[key]
    if params.q and search:
        pattern = "%" + params.q.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
        stmt = stmt.where(sa.or_(*[col.ilike(pattern, escape="\\") for col in search]))
    if params.cursor:
        raw_value, raw_ident = _decode(params.cursor, sort)
        value, ident = _typed(raw_value, column), _typed(raw_ident, id_column)
        if ident is None:
            raise InvalidInput(BAD_CURSOR, field="cursor")
        if descending:
            stmt = stmt.where(sa.or_(column < value, sa.and_(column == value, id_column < ident)))
        else:
            stmt = stmt.where(sa.or_(column > value, sa.and_(column == value, id_column > ident)))
    order = [column.desc(), id_column.desc()] if descending else [column.asc(), id_column.asc()]
    stmt = stmt.add_columns(column.label("_sort_value"), id_column.label("_sort_id")).order_by(*order)
    rows = list(session.execute(stmt.limit(params.limit + 1)).all())
    next_cursor = None
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        last = rows[-1]
        next_cursor = _encode(sort, last._sort_value, last._sort_id)
    return rows, next_cursor
