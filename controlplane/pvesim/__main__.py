"""``python -m controlplane.pvesim``: the standalone simulator command."""

from __future__ import annotations

import typer

from .cli import pvesim_command


def main() -> None:
    """Run :func:`~controlplane.pvesim.cli.pvesim_command` as a single-command typer app."""
    typer.run(pvesim_command)


if __name__ == "__main__":
    main()
