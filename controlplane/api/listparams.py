"""Query parameters shared by list endpoints: paging, sorting, search, and multi-value filters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from controlplane.services.listing import MAX_LIMIT, ListParams


def list_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")] = 50,
    cursor: Annotated[str | None, Query(max_length=1024, description="next_cursor of the previous page")] = None,
    sort: Annotated[str | None, Query(max_length=64, description="Field to sort by; '-' prefix = descending")] = None,
    q: Annotated[str | None, Query(max_length=200, description="Text search")] = None,
) -> ListParams:
    """Paging, sorting and search parameters."""
    return ListParams(limit=limit, cursor=cursor, sort=sort, q=q)


def multi(values: list[str] | None) -> list[str] | None:
    """Repeated or comma-separated values as one list (None when not given)."""
    if not values:
        return None
    out = [v.strip() for value in values for v in value.split(",") if v.strip()]
    return out or None
