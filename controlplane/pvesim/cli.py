"""``controlplane pvesim``: run the simulator as a standalone server until interrupted."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from .config import SimConfig, TokenSpec
from .faults import FaultRule
from .server import Simulator


def pvesim_command(
    port: Annotated[int, typer.Option(help="HTTPS port (0 = pick a free one).")] = 8006,
    host: Annotated[str, typer.Option(help="Loopback address to listen on.")] = "127.0.0.1",
    http_port: Annotated[int | None, typer.Option(help="Also serve plain HTTP on this port.")] = None,
    nodes: Annotated[int, typer.Option(help="Number of nodes pve1..pveN.")] = 1,
    guests: Annotated[int, typer.Option(help=(
        "Number of seeded guests (qemu and lxc mix); nodes get more memory when their running guests need it, "
        "so at least 25% stays free."))] = 0,
    seed: Annotated[int, typer.Option(help="Seed for guests, metrics and faults.")] = 1,
    password: Annotated[str | None, typer.Option(help="Password of root@pam (generated if omitted).")] = None,
    token: Annotated[
        str | None,
        typer.Option(help="Root API token USER@REALM!NAME=SECRET (secret [A-Za-z0-9-]+; generated if omitted)."),
    ] = None,
    task_seconds: Annotated[float, typer.Option(help="Seconds each task runs before it completes.")] = 0.0,
    state_file: Annotated[str | None, typer.Option(help="JSON file to load state from and save it to.")] = None,
    fault: Annotated[
        list[str] | None,
        typer.Option(help="Fault rule 'kind,key=value,...' (latency, error, drop, task-error, offline); repeatable."),
    ] = None,
    ca_dir: Annotated[str | None, typer.Option(help="Directory for the generated CA and certificate.")] = None,
) -> None:
    """Run a Proxmox VE API simulator serving /api2/json over HTTPS until Ctrl-C."""
    if host not in ("127.0.0.1", "::1", "localhost"):
        raise typer.BadParameter("only loopback addresses are allowed", param_hint="--host")
    try:
        if token:
            TokenSpec.parse(token)
        for spec in fault or []:
            FaultRule.parse(spec)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    config = SimConfig(
        nodes=nodes,
        guests=guests,
        seed=seed,
        host=host,
        port=port,
        http_port=http_port,
        task_seconds=task_seconds,
        state_file=state_file,
        ca_dir=ca_dir,
        password=password,
        token=token,
        faults=list(fault or []),
    )
    sim = Simulator(config).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    extra = f" http={sim.http_url}" if sim.http_url else ""
    typer.echo(
        f"pvesim ready url={sim.url} api={sim.api_url} ca={sim.ca_file} "
        f"token={sim.token_id}={sim.token_secret} password={sim.password}{extra}",
    )
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
