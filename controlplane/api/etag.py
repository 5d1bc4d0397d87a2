"""Optimistic concurrency: ``ETag`` on reads, ``If-Match`` on writes (412 when the object changed)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Response

from controlplane.errors import PreconditionFailed


def set_etag(response: Response, resource_version: int) -> None:
    """Send the object's version as a strong ETag."""
    response.headers["ETag"] = f'"{resource_version}"'


def parse_if_match(value: str | None) -> int | None:
    """The version an ``If-Match`` header requires (None when absent or ``*``)."""
    if value is None or value.strip() == "*":
        return None
    tag = value.strip()
    if tag.startswith("W/"):
        tag = tag[2:]
    tag = tag.strip('"')
    if not tag.isdigit() or len(tag) > 18:
        raise PreconditionFailed(f"If-Match {value!r} does not match the object's ETag")
    return int(tag)


IfMatch = Annotated[str | None, Header(alias="If-Match", description="ETag of the version you read")]
