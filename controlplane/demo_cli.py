"""``controlplane demo``: run the Proxmox VE simulator as cluster ``demo`` beside an external database and Vault.

What ``controlplane up`` does for a newcomer, as a process of its own for a container deployment (the
``demo`` profile of ``compose.yaml``): start the simulator (state kept in ``<data>/pvesim``), register it as
cluster ``demo`` through the same path as ``POST /api/v1/clusters`` (its token in Vault), and keep it running
until SIGINT/SIGTERM. The simulator listens on loopback only, so the workers must share the host's network.
"""

from __future__ import annotations

from typing import Annotated

import typer


def demo_command(
    nodes: Annotated[int, typer.Option("--nodes", min=1, max=16, help="Simulated nodes pve1..pveN.")] = 3,
    data_dir: Annotated[
        str | None, typer.Option("--data-dir", help="Data directory (CONTROLPLANE_DATA_DIR).", file_okay=False)
    ] = None,
) -> None:
    """Run the Proxmox VE simulator and register it as cluster 'demo', until SIGINT/SIGTERM."""
    from pathlib import Path

    from controlplane.cli import _print, _say, _settings, _stop_event
    from controlplane.demo import DemoCluster
    from controlplane.errors import ControlPlaneError
    from controlplane.stack import Stack

    settings = _settings(data_dir=Path(data_dir) if data_dir else None)
    stopping = _stop_event()
    stack = Stack(settings, report=_say)
    cluster = DemoCluster(settings.data_dir.resolve() / "pvesim", nodes=nodes)
    try:
        stack.start()
        assert stack.app_engine is not None and stack.vault is not None
        cluster.start(stack.app_engine, stack.vault, _say)
        stopping.wait()
    except ControlPlaneError as exc:
        _print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    finally:
        cluster.stop()
        stack.stop()
