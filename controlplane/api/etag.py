"""Optimistic concurrency: ``ETag`` on reads, ``If-Match`` on writes (412 when the object changed)."""

from __future__ import annotations

from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Depends, Header, Response

from controlplane.errors import PreconditionFailed


class Versioned(Protocol):
    """A row or document that carries its ``resource_version``."""

    @property
    def resource_version(self) -> int:
        """The object's version."""


V = TypeVar("V", bound=Versioned)

PRECONDITION: dict[int | str, dict[str, Any]] = {
    412: {"description": "If-Match names a version that is no longer current (read the object again)"}
}
"""The ``responses`` entry of a route that honours ``If-Match``."""


def set_etag(response: Response, resource_version: int) -> None:
    """Send the object's version as a strong ETag."""
    response.headers["ETag"] = f'"{resource_version}"'


def tagged(response: Response, obj: V) -> V:
    """Send ``obj``'s version as the response's ETag, and hand ``obj`` on."""
    set_etag(response, obj.resource_version)
    return obj


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


def expected_version(if_match: IfMatch = None) -> int | None:
    """The dependency form of :func:`parse_if_match`: the version a write requires, or None."""
    return parse_if_match(if_match)


ExpectedVersion = Annotated[int | None, Depends(expected_version)]
"""A route parameter: the version ``If-Match`` requires (None when absent or ``*``); 412 when malformed."""
