"""Shared field types and the page envelope of list endpoints."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic import Strict as StrictType

DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"

DnsLabel = Annotated[str, StringConstraints(pattern=DNS_LABEL_PATTERN, min_length=1, max_length=63)]
"""A DNS label: lower-case letters, digits and dashes, 1-63 characters, no dash at either end."""

ShortText = Annotated[str, StringConstraints(max_length=255)]
LongText = Annotated[str, StringConstraints(max_length=4096)]

Count = Annotated[int, StrictType()]
"""An integer that must be sent as a JSON integer: ``true``, ``2.0`` and ``"2"`` are refused, not coerced."""

ResourceVersion = Annotated[int, Field(description="Bumped on every change; sent as the ETag, give it in If-Match.")]
"""The version of a mutable object, for optimistic concurrency."""

T = TypeVar("T")


class Strict(BaseModel):
    """Base of request bodies: unknown fields are an error that names the field."""

    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    """One page of a list: the items and the cursor of the next page (``null`` on the last page)."""

    items: list[T]
    next_cursor: str | None = Field(None, description="Pass as ?cursor= to get the next page.")
