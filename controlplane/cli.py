"""The ``controlplane`` command line: run the stack, migrate the database, run the simulator."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from controlplane import __version__
from controlplane.backup.cli import backup_command, restore_command
from controlplane.config import Settings, get_settings
from controlplane.demo_cli import demo_command
from controlplane.errors import ControlPlaneError
from controlplane.gitops.cli import register as register_gitops
from controlplane.pvesim.cli import pvesim_command
from controlplane.util.logs import configure_logging, is_json

app = typer.Typer(
    name="controlplane",
    help="A desired-state control plane for Proxmox VE.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.command("pvesim")(pvesim_command)
app.command("backup")(backup_command)
app.command("restore")(restore_command)
app.command("demo")(demo_command)
register_gitops(app)

log = logging.getLogger("controlplane")
STARTED = time.monotonic()
"""When this process began running the command line (close enough to its start: this module loads first)."""
console = Console(stderr=True)

HostOption = Annotated[str | None, typer.Option("--host", help="Bind address (CONTROLPLANE_HTTP_HOST).")]
PortOption = Annotated[int | None, typer.Option("--port", help="HTTP port (CONTROLPLANE_HTTP_PORT).")]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (CONTROLPLANE_DATA_DIR).", file_okay=False)
]


def _settings(host: str | None = None, port: int | None = None, data_dir: Path | None = None) -> Settings:
    overrides: dict[str, object] = {}
    if host is not None:
        overrides["http_host"] = host
    if port is not None:
        overrides["http_port"] = port
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    try:
        settings = get_settings(**overrides)
    except ControlPlaneError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from exc
    configure_logging(settings.log_level, settings.log_format, console)
    return settings


def _print(markup: str) -> None:
    """Tell the operator: Rich markup on the console, or a log line when logs are JSON (stderr stays JSON)."""
    if is_json():
        from rich.text import Text

        log.log(logging.ERROR if markup.startswith("[red]") else logging.INFO, "%s",
                Text.from_markup(markup).plain.strip().removeprefix("• "))
    else:
        console.print(markup)


def _say(message: str) -> None:
    _print(f"[dim]•[/dim] {message}")


def _serve(settings: Settings, *, title: str, demo: bool = False, workers: int = 0) -> None:
    from controlplane.api.app import create_app
    from controlplane.api.deps import AppDeps
    from controlplane.api.metrics import serve_metrics_port
    from controlplane.demo import DemoCluster
    from controlplane.stack import AnnouncingServer, Stack, http_server_config

    stack = Stack(settings, report=_say)
    demo_cluster = DemoCluster(settings.data_dir.resolve() / "pvesim")
    worker = syncer = None
    try:
        stack.start()
        assert stack.app_engine is not None and stack.vault is not None
        checks = {}
        if demo and demo_cluster.wanted(stack.app_engine):
            demo_cluster.start(stack.app_engine, stack.vault, _say)
            checks["pvesim"] = demo_cluster.check
        if workers:
            from controlplane.reconciler.runtime import start_worker

            assert stack.database is not None
            worker = start_worker(settings, stack.app_engine, stack.vault, owner_url=stack.database.owner_url,
                                  concurrency=workers, poll_interval=2.0, resync_interval=30.0)
            _say(f"Reconciler: {workers} concurrent runs in this process")
            from controlplane.gitops.sync import Syncer

            syncer = Syncer(stack.app_engine, stack.vault).start()
        http_app = create_app(
            AppDeps(settings=settings, app_engine=stack.app_engine, vault=stack.vault, extra_checks=checks)
        )
        serve_metrics_port(settings, stack.app_engine)
        url = f"http://{settings.http_host}:{settings.http_port}"
        _print(
            f"\n[bold]{title}[/bold] {__version__} listening on [cyan]{url}[/cyan]  "
            f"(readiness {url}/readyz, API docs {url}/docs)\n"
            f"  data directory: {stack.data_dir}\n"
            "  stop: press Ctrl-C (stops everything started here)\n"
        )
        server = AnnouncingServer(http_server_config(http_app, settings), lambda: _say(
            f"ready in {time.monotonic() - STARTED:.1f} s (from the command's start to the API listening)"))
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after its graceful shutdown
        pass
    except ControlPlaneError as exc:
        _print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    finally:
        if syncer is not None:
            syncer.stop()
        if worker is not None:
            worker.stop()
        demo_cluster.stop()
        stack.stop()
        _print("controlplane stopped; every component it started is stopped too.")


@app.command()
def up(
    host: HostOption = None,
    port: PortOption = None,
    data_dir: DataDirOption = None,
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="Concurrent reconciler runs.")] = 2,
) -> None:
    """Start the whole control plane on embedded defaults: PostgreSQL, OpenBao, the API, the reconciler
    (and, while no cluster is registered, a Proxmox VE simulator as cluster 'demo')."""
    _serve(_settings(host, port, data_dir), title="controlplane", demo=True, workers=workers)


@app.command()
def api(host: HostOption = None, port: PortOption = None, data_dir: DataDirOption = None) -> None:
    """Serve the HTTP API only (PostgreSQL and Vault as configured, embedded when not)."""
    _serve(_settings(host, port, data_dir), title="controlplane api")


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head", data_dir: DataDirOption = None
) -> None:
    """Migrate the database to the newest schema (or to REVISION)."""
    from controlplane.db import migrate

    with _database(data_dir) as owner_url:
        migrate.upgrade(owner_url, revision)
        console.print(f"database at revision {migrate.current_revision(owner_url)}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision ('base' removes every table).")],
    data_dir: DataDirOption = None,
) -> None:
    """Migrate the database down to REVISION."""
    from controlplane.db import migrate

    with _database(data_dir) as owner_url:
        migrate.downgrade(owner_url, revision)
        console.print(f"database at revision {migrate.current_revision(owner_url)}")


@db_app.command("current")
def db_current(
    check: Annotated[bool, typer.Option("--check", help="Exit with status 3 unless the database is at head.")] = False,
    wait: Annotated[float | None, typer.Option(
        "--wait", min=0, help="Wait up to SECONDS for the database to reach head (retrying while it is "
        "unreachable), then exit as --check does: what an init container runs.")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Print the revision the database is at, and the newest one this version ships."""
    from controlplane.db import migrate

    with _database(data_dir) as owner_url:
        try:
            current = (migrate.current_revision(owner_url) if wait is None
                       else migrate.wait_for_head(owner_url, wait))
        except ControlPlaneError as exc:
            console.print(f"[red]error:[/red] {exc.message}")
            raise typer.Exit(1) from exc
        head = migrate.head_revision()
        typer.echo(f"current: {current}  head: {head}")
    if (check or wait is not None) and current != head:
        console.print(f"database not at head ({head}): run `controlplane db upgrade`")
        raise typer.Exit(3)


class _database:
    """The owner URL of the configured database, starting the embedded server for the duration."""

    def __init__(self, data_dir: Path | None) -> None:
        self.settings = _settings(data_dir=data_dir)
        self.server = None

    def __enter__(self) -> str:
        if self.settings.database_url is not None:
            return self.settings.database_url.get_secret_value()
        from controlplane.db.embedded import EmbeddedPostgres

        self.server = EmbeddedPostgres(self.settings.data_dir.resolve() / "postgres")
        self.server.start()
        return self.server.ensure_database().owner

    def __exit__(self, *_exc: object) -> None:
        if self.server is not None:
            self.server.stop()


user_app = typer.Typer(help="Users of the control plane (the first admin comes from here).", no_args_is_help=True)
app.add_typer(user_app, name="user")
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


def _read_password() -> str:
    """The password from stdin when it is not a terminal, else from a prompt (asked twice)."""
    import sys

    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Argument(help="The user's email address (their login).")],
    role: Annotated[str, typer.Option("--role", help="admin | manager | user")] = "user",
    tenant: Annotated[str | None, typer.Option("--tenant", help="Tenant name (managers and users).")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create a user; the password is read from stdin when it is not a terminal (prompted otherwise)."""
    from pydantic import ValidationError

    from controlplane.db.engine import RequestContext, create_app_engine, session_scope
    from controlplane.services import users
    from controlplane.services.caller import Caller
    from controlplane.services.dberrors import translated

    password = _read_password()
    operator = Caller(user_id=None, tenant_id=None, role="admin", email="cli")
    database = _database(data_dir)
    with database as owner_url:
        app_url = database.settings.app_database_url
        engine = create_app_engine(app_url.get_secret_value() if app_url else None, owner_url)
        try:
            with translated(), session_scope(engine, RequestContext(role="admin")) as session:
                row = users.create_unchecked(session, operator, email, password, role, tenant)
        except ValidationError as exc:
            err = exc.errors()[0]
            console.print(f"[red]error:[/red] {'.'.join(map(str, err['loc']))}: {err['msg']}")
            raise typer.Exit(2) from exc
        except ControlPlaneError as exc:
            console.print(f"[red]error:[/red] {exc.message}" + (f" ({exc.field})" if exc.field else ""))
            raise typer.Exit(1) from exc
        finally:
            engine.dispose()
    typer.echo(f"created {row.role} {row.email} ({row.id})")


@audit_app.command("verify")
def audit_verify(data_dir: DataDirOption = None) -> None:
    """Recompute the audit log's hash chain; exit 1 and name the first event that was altered or removed."""
    from controlplane.db.engine import create_engine
    from controlplane.services.audit import verify_chain

    with _database(data_dir) as owner_url:
        engine = create_engine(owner_url)
        try:
            with engine.connect() as conn:
                report = verify_chain(conn)
        finally:
            engine.dispose()
    if not report.ok:
        console.print(f"[red]audit chain broken[/red] after checking {report.checked} events: {report.problem}")
        raise typer.Exit(1)
    typer.echo(f"audit chain intact: {report.checked} events verified")


@app.command()
def inventory(
    list_: Annotated[bool, typer.Option("--list", help="Print every host and group (script inventory JSON).")] = False,
    host: Annotated[str | None, typer.Option("--host", help="Print the variables of host NAME.")] = None,
    tenant: Annotated[
        str | None, typer.Option("--tenant", envvar="CONTROLPLANE_INVENTORY_TENANT", help="Only this tenant's hosts.")
    ] = None,
    want_spec: Annotated[bool, typer.Option("--want-spec", help="Give every guest its whole spec as `spec`.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Print the Ansible inventory read from the database, as a script inventory (--list / --host NAME).

    The database is CONTROLPLANE_INVENTORY_DSN, else CONTROLPLANE_DATABASE_URL, else a running `controlplane up`.
    """
    import json

    from controlplane.services.inventory import host_json, load_inventory, script_json
    from controlplane.services.inventory_source import resolve_source

    if list_ == (host is not None):
        console.print("[red]error:[/red] give exactly one of --list or --host NAME")
        raise typer.Exit(2)
    settings = _settings(data_dir=data_dir)
    try:
        dsn = settings.inventory_dsn.get_secret_value() if settings.inventory_dsn else None
        source = resolve_source(settings, dsn=dsn, tenant=bool(tenant))
        hosts = load_inventory(source, tenant=tenant, want_spec=want_spec)
        if list_:  # compact: the C encoder, many times faster than an indented dump of every host
            typer.echo(json.dumps(script_json(hosts), sort_keys=True, separators=(",", ":")))
        else:
            typer.echo(json.dumps(host_json(hosts, str(host)), indent=2, sort_keys=True))
    except ControlPlaneError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc


def _stop_event() -> threading.Event:
    """An event set by SIGINT or SIGTERM: long-running commands wait on it, then stop what they started."""
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    return stopping


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, help="Runs at once.")] = 4,
    poll_interval: Annotated[float, typer.Option(help="Seconds between polls for due work.")] = 5.0,
    resync_interval: Annotated[float, typer.Option(help="Seconds between observations of a cluster.")] = 60.0,
    lease_ttl: Annotated[float, typer.Option(help="Seconds a lease lasts unless renewed.")] = 60.0,
    stop_timeout: Annotated[float, typer.Option(
        min=0, help="Seconds runs in progress get to end after SIGTERM; the leases of those still going are "
        "then handed back and the process exits with status 3 (keep it below Kubernetes' "
        "terminationGracePeriodSeconds).")] = 60.0,
    data_dir: DataDirOption = None,
) -> None:
    """Run the reconciler: converge every managed guest, N runs at once, until SIGINT/SIGTERM."""
    from controlplane.api.metrics import serve_metrics_port
    from controlplane.reconciler.runtime import start_worker
    from controlplane.stack import Stack

    settings = _settings(data_dir=data_dir)
    stopping = _stop_event()
    stack = Stack(settings, report=_say)
    finished = True
    try:
        stack.start()
        assert stack.app_engine is not None and stack.vault is not None and stack.database is not None
        running = start_worker(settings, stack.app_engine, stack.vault, owner_url=stack.database.owner_url,
                               concurrency=concurrency, poll_interval=poll_interval,
                               resync_interval=resync_interval, lease_ttl=lease_ttl)
        serve_metrics_port(settings, stack.app_engine)
        _say(f"worker {running.holder}: {concurrency} concurrent runs; Ctrl-C or SIGTERM stops it")
        stopping.wait()
        _say(f"stopping: runs in progress are cancelled and their leases given back (at most {stop_timeout:g}s)")
        finished = running.stop(timeout=stop_timeout)
    except ControlPlaneError as exc:
        _print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    finally:
        stack.stop()
    if not finished:
        _say("runs that did not end in time were abandoned; their leases are handed back")
        logging.shutdown()
        os._exit(3)  # their threads cannot be joined; the interpreter would wait for them at exit


@app.command()
def sync(
    interval: Annotated[float, typer.Option(help="Seconds between looks for due git sources.")] = 5.0,
    data_dir: DataDirOption = None,
) -> None:
    """Follow the git sources (pull-based GitOps): poll, fetch, validate and apply each new commit.

    Example: controlplane sync --interval 5
    """
    from controlplane.gitops.sync import Syncer
    from controlplane.stack import Stack

    settings = _settings(data_dir=data_dir)
    stopping = _stop_event()
    stack = Stack(settings, report=_say)
    try:
        stack.start()
        assert stack.app_engine is not None and stack.vault is not None
        syncer = Syncer(stack.app_engine, stack.vault, interval=interval).start()
        _say("git sync running; Ctrl-C or SIGTERM stops it")
        stopping.wait()
        syncer.stop()
    except ControlPlaneError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    finally:
        stack.stop()


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
