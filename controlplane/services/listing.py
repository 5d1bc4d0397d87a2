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


def _decode(cursor: str, sort: str) -> tuple[Any, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        cursor_sort, value, ident = json.loads(raw)
        if cursor_sort != sort:
            raise ValueError("sort changed")
        if isinstance(value, dict):
            value = datetime.fromisoformat(value["dt"])
        return value, str(ident)
    except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
        raise InvalidInput("invalid cursor (or the sort changed since it was issued)", field="cursor") from exc


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
        value, ident = _decode(params.cursor, sort)
        try:
            ident_value: Any = int(ident) if isinstance(id_column.type, sa.BigInteger | sa.Integer) else UUID(ident)
            if descending:
                stmt = stmt.where(sa.or_(column < value, sa.and_(column == value, id_column < ident_value)))
            else:
                stmt = stmt.where(sa.or_(column > value, sa.and_(column == value, id_column > ident_value)))
        except (TypeError, ValueError) as exc:
            raise InvalidInput("invalid cursor", field="cursor") from exc
    order = [column.desc(), id_column.desc()] if descending else [column.asc(), id_column.asc()]
    stmt = stmt.add_columns(column.label("_sort_value"), id_column.label("_sort_id")).order_by(*order)
    rows = list(session.execute(stmt.limit(params.limit + 1)).all())
    next_cursor = None
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        last = rows[-1]
        next_cursor = _encode(sort, last._sort_value, last._sort_id)
    return rows, next_cursor
