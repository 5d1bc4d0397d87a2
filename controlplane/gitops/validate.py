"""Offline validation of desired-state files: every error of every file, each pointing at file:line:col.

``load`` reads the files and checks each document against the API's own document model; duplicates of
(kind, project, name) are an error naming both places. Nothing here needs a server.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from controlplane.gitops import files, yamlsource
from controlplane.gitops.documents import KINDS, MODELS
from controlplane.gitops.yamlsource import FieldPath, Location, SourceDocument


@dataclass(frozen=True)
class Problem:
    """One error: where, which field, what is wrong."""

    location: Location
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.field}: {self.message}" if self.field else f"{self.location}: {self.message}"


@dataclass(frozen=True)
class Loaded:
    """A valid document and where it came from."""

    source: SourceDocument
    model: BaseModel

    @property
    def kind(self) -> str:
        """VirtualMachine, Container or Project."""
        return str(self.source.data["kind"])

    @property
    def identity(self) -> tuple[str, str, str]:
        """(kind, project, name): what must be unique across all files (a project's own name twice)."""
        meta: Any = self.model.metadata  # type: ignore[attr-defined]
        if self.kind == "Project":
            return (self.kind, meta.name, meta.name)
        return (self.kind, meta.project or str(meta.project_id), meta.name)

    @property
    def location(self) -> Location:
        """Where the document starts."""
        return self.source.locate(())


@dataclass
class Result:
    """All valid documents and all problems found."""

    documents: list[Loaded]
    problems: list[Problem]
    files: int = 0


def _dotted(path: FieldPath) -> str:
    return ".".join(str(p) for p in path)


def _message(error: dict[str, Any]) -> str:
    message = str(error["msg"])
    if error["type"] == "extra_forbidden":
        return "unknown field"
    if error["type"] == "missing":
        return "required field is missing"
    return message.removeprefix("Value error, ")


def check(source: SourceDocument) -> Loaded | list[Problem]:
    """One document checked against its kind's model: the loaded document, or its problems."""
    data = source.data
    if not isinstance(data, dict):
        return [Problem(source.locate(()), "", "a document must be a mapping (apiVersion, kind, metadata, spec)")]
    kind = data.get("kind")
    if kind not in KINDS:
        where = source.locate(("kind",))
        return [Problem(where, "kind", f"must be one of {', '.join(KINDS)} (got {kind!r})")]
    try:
        return Loaded(source, MODELS[str(kind)].model_validate(data))
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            path: FieldPath = tuple(error["loc"])
            problems.append(Problem(source.locate(path), _dotted(path), _message(error)))
        return problems


def _duplicates(documents: list[Loaded]) -> list[Problem]:
    first: dict[tuple[str, str, str], Loaded] = {}
    problems = []
    for doc in documents:
        earlier = first.setdefault(doc.identity, doc)
        if earlier is not doc:
            kind, project, name = doc.identity
            problems.append(Problem(doc.location, "metadata.name",
                                    f"{kind} {name!r} of project {project!r} is also defined at {earlier.location}"))
    return problems


def load(paths: Iterable[Path], include: Sequence[str] = files.DEFAULT_INCLUDE,
         exclude: Sequence[str] = ()) -> Result:
    """Read and check every file under ``paths``: the valid documents and every problem, in file order."""
    result = Result([], [])
    for path in files.find(paths, include, exclude):
        result.files += 1
        sources, syntax = yamlsource.read(path)
        result.problems.extend(Problem(p.location, "", p.message) for p in syntax)
        for source in sources:
            checked = check(source)
            if isinstance(checked, Loaded):
                result.documents.append(checked)
            else:
                result.problems.extend(checked)
    result.problems.extend(_duplicates(result.documents))
    return result
