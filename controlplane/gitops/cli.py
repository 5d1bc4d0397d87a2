"""The GitOps commands of ``controlplane``: ``validate`` and ``schema`` (offline).

``register(app)`` adds them to the main command line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from controlplane.gitops import documents, files, validate

PathsArgument = Annotated[list[Path], typer.Argument(help="Files or directories (searched recursively).",
                                                     exists=True)]
IncludeOption = Annotated[list[str] | None, typer.Option(
    "--include", help="Glob of files to read (repeatable; default *.yaml and *.yml).")]
ExcludeOption = Annotated[list[str] | None, typer.Option("--exclude", help="Glob of files to skip (repeatable).")]


def validate_command(paths: PathsArgument, include: IncludeOption = None, exclude: ExcludeOption = None,
                     quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print errors only.")] = False
                     ) -> None:
    """Check desired-state files offline: every error as file:line:col: field: message; exit 1 on any.

    Example: controlplane validate guests/ --exclude 'drafts/*'
    """
    result = validate.load(paths, include or files.DEFAULT_INCLUDE, exclude or ())
    for problem in result.problems:
        sys.stderr.write(f"{problem}\n")
    if not quiet:
        sys.stderr.write(f"{result.files} files, {len(result.documents)} valid documents, "
                         f"{len(result.problems)} errors\n")
    raise typer.Exit(1 if result.problems else 0)


def schema_command() -> None:
    """Print the JSON Schema of a desired-state document (for yaml-language-server and other editors).

    Example: controlplane schema > controlplane.schema.json
    """
    sys.stdout.write(json.dumps(documents.json_schema(), indent=2, sort_keys=True) + "\n")


def register(app: typer.Typer) -> None:
    """Add the GitOps commands to the main command line."""
    app.command("validate")(validate_command)
    app.command("schema")(schema_command)
