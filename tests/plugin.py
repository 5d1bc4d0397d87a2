"""The pytest plugin of this project: loads the fixture modules that start real servers.

Loaded with ``-p tests.plugin`` (see pyproject.toml). Each fixture module starts its server once per test
session on a free loopback port and stops it at the end; a missing binary fails the run with the command
that installs it (nothing is skipped).
"""

from __future__ import annotations

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.vault",
    "tests.fixtures.redis",
    "tests.fixtures.toolchain",
    "tests.fixtures.pvesim",
    "tests.fixtures.api",
    "tests.fixtures.sshd",
]
