"""PostgreSQL's own dump and restore programs (``pg_dump`` / ``pg_restore``), of a version that fits the server.

The embedded server comes from the ``pgserver`` wheel, which ships its binaries: those are found first, so
an embedded install is dumped by the very version it runs. An external server is served by whichever
``pg_dump`` (the wheel's, PATH's, Debian's ``/usr/lib/postgresql/N/bin``) has the server's major version,
else the nearest newer one (``pg_dump`` refuses a server newer than itself).

A password in the database URL reaches the programs only through ``PGPASSWORD`` in their environment,
never on a command line that ``ps`` shows. Failures become :class:`~controlplane.errors.ComponentError`.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg.conninfo

from controlplane.errors import ComponentError

COMPONENT = "postgresql"
DEBIAN_DIRS = Path("/usr/lib/postgresql")
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")
_DUMPED_TABLE = re.compile(r'dumping contents of table "([^"]+)"')
_RESTORED_TABLE = re.compile(r'processing data for table "([^"]+)"')

OnTable = Callable[[str], None]


@dataclass(frozen=True)
class Tool:
    """One PostgreSQL client program and its version."""

    path: str
    version: str
    major: int


def _pgserver_bin() -> Path | None:
    spec = importlib.util.find_spec("pgserver")  # not imported: importing it touches the filesystem
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _candidates(name: str) -> list[str]:
    paths: list[Path] = []
    if (bundled := _pgserver_bin()) is not None:
        paths.append(bundled / name)
    if (on_path := shutil.which(name)) is not None:
        paths.append(Path(on_path))
    paths.extend(sorted(DEBIAN_DIRS.glob(f"*/bin/{name}")))
    seen: list[str] = []
    for path in paths:
        if path.is_file() and str(path) not in seen:
            seen.append(str(path))
    return seen


def _version(path: str) -> Tool | None:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(out)
    if match is None:
        return None
    return Tool(path, match.group(0).split()[-1], int(match.group(1)))


def find_tool(name: str, server_major: int) -> Tool:
    """The ``pg_dump`` / ``pg_restore`` for a server of major version ``server_major``: the same major when
    there is one, else the oldest newer one; ComponentError (saying what to install) when none fits."""
    tools = [tool for path in _candidates(name) if (tool := _version(path)) is not None]
    fitting = sorted((t for t in tools if t.major >= server_major), key=lambda t: t.major)
    if not fitting:
        found = ", ".join(f"{t.path} ({t.version})" for t in tools) or "none"
        raise ComponentError(
            f"no {name} for PostgreSQL {server_major} (found: {found}); install the client of that version, "
            f"e.g. apt-get install postgresql-client-{server_major}", component=COMPONENT)
    return fitting[0]


def _connection(url: str) -> tuple[str, dict[str, str]]:
    """The URL as a libpq connection string without its password, and the environment carrying it."""
    try:
        params = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise ComponentError("the database URL cannot be parsed", component=COMPONENT) from exc
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    password = params.pop("password", None)
    if password:
        env["PGPASSWORD"] = str(password)
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in params.items() if v is not None}), env


def _run(command: list[str], env: dict[str, str], pattern: re.Pattern[str], on_table: OnTable, *,
         stdout: int | None = None, what: str) -> None:
    """Run ``command``, calling ``on_table`` for each table its verbose output names; its last lines of
    output are the error's message when it fails."""
    tail: deque[str] = deque(maxlen=20)
    try:
        process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=stdout,
                                   stderr=subprocess.PIPE, text=True)
    except OSError as exc:
        raise ComponentError(f"cannot run {command[0]}: {exc}", component=COMPONENT) from exc
    assert process.stderr is not None
    with process:
        for line in process.stderr:
            if match := pattern.search(line):
                on_table(match.group(1))
            else:
                tail.append(line.rstrip())
    if process.returncode != 0:
        detail = "\n".join(line for line in tail if "error" in line.lower() or "fatal" in line.lower()) or \
            "\n".join(tail)
        raise ComponentError(f"{what} failed (exit {process.returncode}):\n{detail}", component=COMPONENT)


def dump(tool: Tool, url: str, out: int, on_table: OnTable, *, snapshot: str | None = None) -> None:
    """Write a consistent dump (one snapshot: ``snapshot``, exported by a transaction still open, or one of
    its own) of the database at ``url``, PostgreSQL's custom format, to the open file descriptor ``out``;
    ``on_table`` hears each table as its rows are dumped."""
    conninfo, env = _connection(url)
    command = [tool.path, "--format=custom", "--verbose", f"--dbname={conninfo}"]
    if snapshot is not None:
        command.append(f"--snapshot={snapshot}")
    _run(command, env, _DUMPED_TABLE, on_table, stdout=out, what="pg_dump")


def restore(tool: Tool, url: str, archive: Path, on_table: OnTable) -> None:
    """Restore ``archive`` (made by :func:`dump`) into the database at ``url`` in one transaction: every
    object of the archive is dropped first when it exists and then created owned by the URL's user; the
    first error undoes everything."""
    conninfo, env = _connection(url)
    _run([tool.path, "--verbose", "--clean", "--if-exists", "--no-owner", "--single-transaction",
          "--exit-on-error", f"--dbname={conninfo}", str(archive)], env, _RESTORED_TABLE, on_table,
         what="pg_restore")


def archive_version(tool: Tool, archive: Path) -> int:
    """The major version of the ``pg_dump`` that made ``archive`` (``pg_restore`` must be at least as new)."""
    try:
        listing = subprocess.run([tool.path, "--list", str(archive)], capture_output=True, text=True, timeout=120,
                                 check=True).stdout
    except subprocess.CalledProcessError as exc:
        raise ComponentError(f"{archive.name} is not a PostgreSQL archive: {exc.stderr.strip()}",
                             component=COMPONENT) from exc
    match = re.search(r"Dumped by pg_dump version: (\d+)", listing)
    return int(match.group(1)) if match else 0
