"""The ``controlplane backup`` and ``controlplane restore`` commands (registered in ``controlplane.cli``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from controlplane.backup.progress import Progress
from controlplane.config import Settings, get_settings
from controlplane.errors import ControlPlaneError

console = Console(stderr=True, soft_wrap=True)

DirArgument = Annotated[Path, typer.Argument(help="The backup directory.", metavar="DIR", file_okay=False)]
ForceOption = Annotated[bool, typer.Option("--force", help="Replace what is there (see above).")]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (CONTROLPLANE_DATA_DIR).", file_okay=False)
]


def _settings(data_dir: Path | None) -> Settings:
    try:
        return get_settings(**({"data_dir": data_dir} if data_dir is not None else {}))
    except ControlPlaneError as exc:
        console.print(f"[red]error:[/red] {escape(exc.message)}")
        raise typer.Exit(2) from exc


def _progress() -> Progress:
    def say(message: str) -> None:  # a step gets a bullet; its items (indented) do not
        bullet = "" if message.startswith(" ") else "[dim]•[/dim] "
        console.print(bullet + escape(message), highlight=False)

    return Progress(say)


def _fail(exc: ControlPlaneError) -> typer.Exit:
    console.print(f"[red]error:[/red] {escape(exc.message)}", highlight=False)
    return typer.Exit(1)


def backup_command(directory: DirArgument, force: ForceOption = False, data_dir: DataDirOption = None) -> None:
    """Back up the control plane into DIR, a new or empty directory (--force replaces a backup in it).

    In it: a PostgreSQL dump of one snapshot (specs, status, runs, audit, Terraform state), the secrets from Vault,
    the demo cluster's simulator (embedded installs) and manifest.json (versions, revision, checksums).

    DIR gets mode 0700 and its files 0600: it holds every secret of the install. Works while it runs.

    Example: controlplane backup /var/backups/controlplane/$(date +%F)
    """
    settings = _settings(data_dir)
    from controlplane.backup.create import create_backup

    try:
        result = create_backup(settings, directory, force=force, progress=_progress())
    except ControlPlaneError as exc:
        raise _fail(exc) from exc
    typer.echo(f"backup written to {directory}: {result.describe()}")


def restore_command(directory: DirArgument, force: ForceOption = False, data_dir: DataDirOption = None) -> None:
    """Restore the backup in DIR into an empty install, then migrate it to this version's schema.

    Into the data directory's PostgreSQL and OpenBao (made when missing), or the configured external ones.

    Stop every controlplane process using the target first. A database holding data is refused unless --force,
    which replaces everything (and removes secrets the backup lacks). A newer schema's backup is refused.

    Then start the control plane: every guest comes back as it was, with nothing changed on Proxmox.

    Example: controlplane restore /var/backups/controlplane/2026-01-31 --data-dir /srv/controlplane
    """
    settings = _settings(data_dir)
    from controlplane.backup.restore import restore_backup

    try:
        result = restore_backup(settings, directory, force=force, progress=_progress())
    except ControlPlaneError as exc:
        raise _fail(exc) from exc
    typer.echo(f"restored the backup {result.created_at:%Y-%m-%d %H:%M:%S} UTC from {directory}; "
               "check it with: controlplane audit verify")
