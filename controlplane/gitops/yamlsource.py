"""Reading YAML documents with the line and column of every key, so errors point into the file.

A file may hold several documents (``---``). Each becomes a ``SourceDocument``: plain Python data plus a
map from a field path (``("spec", "disks", 0, "size_gb")``) to its 1-based line and column, taken from
the node tree libyaml composes (fast enough for a pre-commit hook over thousands of files). A key given
twice in one mapping is an error, not a silent overwrite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

FieldPath = tuple[str | int, ...]
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's loader when PyYAML has it (ten times faster than the pure-Python one)."""


@dataclass(frozen=True)
class Location:
    """A place in a file, 1-based."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass
class SourceDocument:
    """One YAML document of a file: its data and where each of its fields is."""

    file: str
    index: int
    data: Any
    positions: dict[FieldPath, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: FieldPath) -> Location:
        """The location of ``path``, or of its nearest parent that has one (the document start at worst)."""
        while path not in self.positions and path:
            path = path[:-1]
        line, column = self.positions.get(path, (1, 1))
        return Location(self.file, line, column)


@dataclass(frozen=True)
class SyntaxProblem:
    """A file that is not valid YAML."""

    location: Location
    message: str


def _positions(node: yaml.Node, path: FieldPath, out: dict[FieldPath, tuple[int, int]],
               duplicates: list[tuple[FieldPath, tuple[int, int]]]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*path, str(key_node.value))
            where = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if child in out:
                duplicates.append((child, where))
            out[child] = where
            _positions(value_node, child, out, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            out[(*path, index)] = (item.start_mark.line + 1, item.start_mark.column + 1)
            _positions(item, (*path, index), out, duplicates)


def _problem(name: str, exc: yaml.YAMLError) -> SyntaxProblem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    parts = (getattr(exc, "context", None), getattr(exc, "problem", None))
    message = " ".join(str(part) for part in parts if part) or str(exc)
    return SyntaxProblem(Location(name, line, col), f"YAML syntax error: {message}")


def read(path: Path, display: str | None = None) -> tuple[list[SourceDocument], list[SyntaxProblem]]:
    """The documents of one file, or the syntax error that stops reading it (empty documents are skipped)."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [SyntaxProblem(Location(name, 1, 1), f"cannot read the file: {exc}")]
    documents: list[SourceDocument] = []
    problems: list[SyntaxProblem] = []
    loader = Loader(text)
    try:
        index = 0
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            positions: dict[FieldPath, tuple[int, int]] = {(): (node.start_mark.line + 1, node.start_mark.column + 1)}
            duplicates: list[tuple[FieldPath, tuple[int, int]]] = []
            _positions(node, (), positions, duplicates)
            for path, (line, col) in duplicates:
                dotted = ".".join(str(p) for p in path)
                problems.append(SyntaxProblem(Location(name, line, col), f"{dotted}: duplicate key"))
            data = loader.construct_document(node)
            if data is not None:
                documents.append(SourceDocument(name, index, data, positions))
            index += 1
    except yaml.YAMLError as exc:
        problems.append(_problem(name, exc))
    finally:
        loader.dispose()
    return documents, problems
