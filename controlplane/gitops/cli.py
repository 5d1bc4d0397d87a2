"""The GitOps commands of ``controlplane``: ``validate`` and ``schema`` (offline); ``diff``, ``apply`` and
``export`` (against a server, ``--url`` / ``CONTROLPLANE_URL`` with the API key in ``CONTROLPLANE_TOKEN``).

``register(app)`` adds them to the main command line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from controlplane.gitops import diff, documents, export, files, gitinfo, render, validate
from controlplane.gitops.client import KIND_PATHS, Client, ClientError
from controlplane.models.gitops import Change

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


UrlOption = Annotated[str | None, typer.Option("--url", help="Server URL (CONTROLPLANE_URL; default "
                                                "http://127.0.0.1:8080). The API key is read from CONTROLPLANE_TOKEN.")]
SourceOption = Annotated[str, typer.Option("--source", help="Source name: objects are managed_by git:<source>.")]
PruneOption = Annotated[bool, typer.Option("--prune", help="Delete this source's objects no longer in the files.")]
AdoptOption = Annotated[bool, typer.Option("--adopt", help="Take hand-made objects of the same name under the source.")]


def _load_or_exit(paths: list[Path], include: list[str] | None, exclude: list[str] | None) -> validate.Result:
    result = validate.load(paths, include or files.DEFAULT_INCLUDE, exclude or ())
    for problem in result.problems:
        sys.stderr.write(f"{problem}\n")
    if result.problems:
        sys.stderr.write(f"{len(result.problems)} errors; nothing compared or applied\n")
        raise typer.Exit(1)
    return result


def _client(url: str | None) -> Client:
    try:
        return Client(url)
    except ClientError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise typer.Exit(1) from exc


def diff_command(paths: PathsArgument, url: UrlOption = None, source: SourceOption = "cli",
                 prune: PruneOption = False, adopt: AdoptOption = False,
                 output: Annotated[str, typer.Option("--format", help="text, markdown or json.")] = "text",
                 include: IncludeOption = None, exclude: ExcludeOption = None) -> None:
    """Compare the files with the server's live objects: exit 0 no changes, 2 changes, 1 error or conflict.

    Example: CONTROLPLANE_TOKEN=cp_... controlplane diff --url https://cp.example.com --format markdown .
    """
    if output not in ("text", "markdown", "json"):
        sys.stderr.write("error: --format must be text, markdown or json\n")
        raise typer.Exit(1)
    result = _load_or_exit(paths, include, exclude)
    client = _client(url)
    try:
        changes = diff.compute(client, result.documents, source, prune=prune, adopt=adopt)
    except ClientError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise typer.Exit(1) from exc
    finally:
        client.close()
    if output == "json":
        sys.stdout.write(render.as_json(changes))
    elif output == "markdown":
        sys.stdout.write("\n<!-- next part -->\n".join(render.markdown(changes)))
    else:
        sys.stdout.write(render.text(changes))
    if any(c.action == "conflict" for c in changes):
        raise typer.Exit(1)
    raise typer.Exit(2 if diff.pending(changes) else 0)


def apply_command(paths: PathsArgument, url: UrlOption = None, source: SourceOption = "cli",
                  prune: PruneOption = False, adopt: AdoptOption = False,
                  dry_run: Annotated[bool, typer.Option("--dry-run", help="Check everything, change nothing.")] = False,
                  include: IncludeOption = None, exclude: ExcludeOption = None) -> None:
    """Make the server match the files, all in one transaction: one error applies none of them.

    Example: CONTROLPLANE_TOKEN=cp_... controlplane apply --source infra --prune .
    """
    result = _load_or_exit(paths, include, exclude)
    repository, commit = gitinfo.describe(paths[0])
    root = gitinfo.checkout_root(paths[0])
    docs = [{"file": gitinfo.inside(root, d.location.file), "line": d.location.line, "document": d.source.data}
            for d in result.documents if d.kind in documents.KINDS]
    request = {"source": source, "repository": repository, "commit": commit, "documents": docs,
               "prune": prune, "dry_run": dry_run, "adopt": adopt}
    sys.stderr.write(f"sending {len(docs)} documents as git:{source}{' (dry run)' if dry_run else ''}; "
                     "the server checks the whole set, then carries it out in one transaction...\n")
    done: list[int] = []

    def shown(event: dict[str, Any]) -> None:
        change = Change.model_validate(event["change"])
        if change.action != "unchanged":
            done.append(event["index"])
            sys.stderr.write(render.progress(event["index"], event["total"], change) + "\n")
            sys.stderr.flush()

    client = _client(url)
    try:
        answer = client.apply(request, on_change=shown)
    except ClientError as exc:
        undone = f" (the {len(done)} changes above were rolled back)" if done else ""
        sys.stderr.write(f"error: {exc}\nnothing was applied{undone}\n")
        raise typer.Exit(1) from exc
    finally:
        client.close()
    changes = [Change.model_validate(c) for c in answer["changes"]]
    sys.stdout.write(render.text(changes))
    sys.stderr.write(f"applied: {len(diff.pending(changes))} changes committed in one transaction\n"
                     if answer["applied"] else "dry run: nothing was changed\n")


def export_command(directory: Annotated[Path, typer.Argument(help="Where to write the files.", file_okay=False)],
                   url: UrlOption = None,
                   project: Annotated[str | None, typer.Option("--project", help="Only this project.")] = None,
                   kind: Annotated[str | None, typer.Option(
                       "--kind", help="VirtualMachine, Container or Project.")] = None
                   ) -> None:
    """Write the live guests and projects as files, DIR/<project>/<kind>/<name>.yaml (no status, ids or
    bookkeeping).

    Example: CONTROLPLANE_TOKEN=cp_... controlplane export --project shop ./infra
    """
    kinds = [kind] if kind else list(documents.KINDS)
    if any(k not in documents.KINDS for k in kinds):
        sys.stderr.write("error: --kind must be VirtualMachine, Container or Project\n")
        raise typer.Exit(1)
    client = _client(url)
    try:
        written = export.write((item for k in kinds if k in KIND_PATHS for item in client.guests(k, project)),
                               directory)
        if "Project" in kinds:
            written += export.write_projects((p for p in client.projects()
                                              if project is None or p["metadata"]["name"] == project), directory)
    except ClientError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise typer.Exit(1) from exc
    finally:
        client.close()
    sys.stderr.write(f"wrote {len(written)} files under {directory}\n")


def register(app: typer.Typer) -> None:
    """Add the GitOps commands to the main command line."""
    app.command("validate")(validate_command)
    app.command("schema")(schema_command)
    app.command("diff")(diff_command)
    app.command("apply")(apply_command)
    app.command("export")(export_command)
