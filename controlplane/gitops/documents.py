"""The documents a desired-state file may hold: guests (the API's own document) and, optionally, projects.

A guest in a file is exactly the API's ``GuestDocument`` with ``kind`` required; a ``Project`` names its
tenant, quota and members (by email). ``json_schema()`` is what editors use to complete and check files.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, TypeAdapter

from controlplane.models.gitops import ProjectFile
from controlplane.models.guest import GuestDocument, Kind

GUEST_KINDS: tuple[str, ...] = ("VirtualMachine", "Container")
KINDS: tuple[str, ...] = (*GUEST_KINDS, "Project")


class GuestFile(GuestDocument):
    """A VirtualMachine or Container as a file holds it (``kind`` is required)."""

    kind: Kind  # type: ignore[assignment]


MODELS: dict[str, type[BaseModel]] = {"VirtualMachine": GuestFile, "Container": GuestFile, "Project": ProjectFile}

AnyDocument = Annotated[GuestFile | ProjectFile, Field(discriminator="kind")]


def json_schema() -> dict[str, Any]:
    """The JSON Schema of one document of a desired-state file."""
    schema = TypeAdapter(AnyDocument).json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "controlplane document", **schema}
