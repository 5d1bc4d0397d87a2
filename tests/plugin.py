"""The pytest plugin of this project: loads the fixture modules that start real servers, and keeps the
developer's machine out of the tests.

Loaded with ``-p tests.plugin`` (see pyproject.toml). Each fixture module starts its server once per test
session on a free loopback port and stops it at the end; a missing binary fails the run with the command
that installs it (nothing is skipped). Tests that start OpenTofu, a confined sshd, a browser or Ansible's
executables, and the end-to-end ones, are marked ``slow`` from their path (``make test-fast`` runs the others).
``tests/maintainer`` (checks against the official PVE API schema, which lives outside the repository) is
collected only with ``--official-schema PATH`` (``make schema-check``).

Passwords hashed in the test process use argon2id at its lowest cost (one pass over 8 MiB): each seeded
world hashes and checks a dozen passwords, which at the production cost is most of an API test's time.
Processes the tests start (``controlplane up``, the CLI) hash at the production cost.

Settings are read from ``CONTROLPLANE_*`` variables and from a ``.env`` file in the working directory, so the
session drops every ``CONTROLPLANE_*`` variable it inherited and runs from an empty temporary directory: a
developer's ``./.env`` or shell settings never reach a test, nor a process a test starts.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from controlplane.config import ENV_PREFIX
from controlplane.pvesim.schema import BUNDLED_SUBSET, find_schema_file
from controlplane.services import secrets_hash

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.vault",
    "tests.fixtures.redis",
    "tests.fixtures.toolchain",
    "tests.fixtures.pvesim",
    "tests.fixtures.api",
    "tests.fixtures.sshd",
    "tests.integration.reconciler.harness",
]


TESTS_DIR = Path(__file__).parent
MAINTAINER_DIR = TESTS_DIR / "maintainer"
# Words a test module's name carries when it starts OpenTofu, a confined sshd for Ansible, or a browser.
SLOW_WORDS = ("tofu", "terraform", "sshd", "chromium")
OWN_BASETEMP = pytest.StashKey[Path]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--official-schema PATH``: also collect the maintainer checks against the official PVE API schema."""
    parser.addoption("--official-schema", metavar="PATH", default=None,
                     help="run tests/maintainer against this apischema.json (make schema-check)")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """The maintainer checks need the official schema, which a clone does not have: only with the option."""
    if collection_path == MAINTAINER_DIR and not config.getoption("official_schema"):
        return True
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Drop the machine's ``CONTROLPLANE_*`` settings before any test module is imported, hash passwords at
    argon2id's lowest cost, and give the session a temporary directory of its own.

    pytest's default base (``/tmp/pytest-of-<user>``) is shared by every session of the user, and each one
    resets its mode to 0700; the embedded PostgreSQL runs as another user when the tests run as root, so a
    concurrent session would lock it out of its data directory mid-run.
    """
    for name in [n for n in os.environ if n.startswith(ENV_PREFIX)]:
        del os.environ[name]
    secrets_hash._hasher = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    if config.option.basetemp is None and not hasattr(config, "workerinput"):
        config.option.basetemp = tempfile.mkdtemp(prefix="controlplane-tests-")
        config.stash[OWN_BASETEMP] = Path(config.option.basetemp)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remove the session's own temporary directory when every test passed (kept for a look otherwise)."""
    own = session.config.stash.get(OWN_BASETEMP, None)
    if own is not None and exitstatus == 0:
        shutil.rmtree(own, ignore_errors=True)


def pytest_report_header(config: pytest.Config) -> str:
    """Say which PVE API schema the simulator validates with (the official one, or the bundled subset)."""
    source = find_schema_file()
    kind = "bundled subset of the served endpoints" if source == BUNDLED_SUBSET else "official"
    return f"pvesim API schema: {source} ({kind})"


def is_slow(path: Path) -> bool:
    """Whether the tests of the module at ``path`` are slow: end-to-end (``tests/e2e``), driving Ansible's
    own executables (``tests/integration/ansible``: each start of one costs seconds), or named after
    OpenTofu, a confined sshd or a browser they start (test modules name the real servers they start)."""
    relative = path.relative_to(TESTS_DIR) if path.is_relative_to(TESTS_DIR) else path
    return (relative.parts[:1] == ("e2e",) or relative.parts[:2] == ("integration", "ansible")
            or any(word in path.stem for word in SLOW_WORDS))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the slow tests ``slow`` (``make test-fast`` leaves them out; ``make test`` runs everything)."""
    for item in items:
        if is_slow(item.path):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def isolated_working_directory() -> Iterator[str]:
    """Run the session from an empty temporary directory (no ``.env``, no ``.data`` of the developer's)."""
    previous = os.getcwd()
    directory = tempfile.mkdtemp(prefix="controlplane-tests-cwd-")
    os.chdir(directory)
    try:
        yield directory
    finally:
        os.chdir(previous)
        shutil.rmtree(directory, ignore_errors=True)
